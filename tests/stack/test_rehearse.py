"""`wapang rehearse` as a user runs it (here with --standins: no Docker Hub), on the tests'
engine: the stack from this checkout comes up, gets a certificate from pebble, passes verify and
is torn down again."""

from __future__ import annotations

import subprocess
import sys

from tests.stack.conftest import CA_BUNDLE, Engine


def test_rehearse_brings_up_the_stack_verifies_it_and_tears_it_down(engine: Engine) -> None:
    result = subprocess.run(
        [
            *(sys.executable, "-m", "wapang.cli", "rehearse", "--standins"),
            *("--http-port", "21180", "--https-port", "21543", "--acme-port", "21115"),
            *(["--ca-bundle", str(CA_BUNDLE)] if CA_BUNDLE.exists() else []),
        ],
        env=dict(engine.docker.env),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "certificate from pebble after" in result.stdout
    assert "all checks passed" in result.stdout
    left = engine.docker.run(
        "ps", "-aq", "--filter", "label=com.docker.compose.project=wapang-rehearsal"
    )
    assert left.stdout.strip() == "", "rehearse without --keep leaves no container behind"
