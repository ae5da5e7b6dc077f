"""`wapang rehearse` as a user runs it (here with --standins: no Docker Hub), on the tests'
engine and with the environment a new user has (no DOCKER_BUILDKIT, no compose plugin: the
command enables BuildKit and provides the bundled compose itself): the stack from this checkout
comes up, gets a certificate from pebble, passes verify and is torn down again."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.stack.conftest import CA_BUNDLE, Engine
from wapang.delivery.stack import ROOT


def test_rehearse_brings_up_the_stack_verifies_it_and_tears_it_down(
    engine: Engine, tmp_path: Path
) -> None:
    users_docker_config = tmp_path / "home-docker"  # a fresh ~/.docker: no cli-plugins
    users_docker_config.mkdir()
    users_env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_BUILDKIT", "DOCKER_HOST")}
    users_env["DOCKER_CONFIG"] = str(users_docker_config)
    result = subprocess.run(
        [
            *("uv", "run", "--frozen", "wapang", "rehearse", "--standins"),
            *("--http-port", "21180", "--https-port", "21543", "--acme-port", "21115"),
            *(["--ca-bundle", str(CA_BUNDLE)] if CA_BUNDLE.exists() else []),
        ],
        cwd=ROOT,
        env=users_env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BuildKit enabled (DOCKER_BUILDKIT=1)" in result.stdout
    assert "(bundled, a CLI plugin in" in result.stdout
    assert "certificate from pebble after" in result.stdout
    assert "all checks passed" in result.stdout
    left = engine.docker.run(
        "ps", "-aq", "--filter", "label=com.docker.compose.project=wapang-rehearsal"
    )
    assert left.stdout.strip() == "", "rehearse without --keep leaves no container behind"
