"""The loopback harness (harness/): a setting exported in the developer's shell never reaches a
server a test or the bench starts; only what the test or the bench sets does."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bench.__main__ import _app_env
from bench.seed import Admin
from harness.apps import clean_env
from tests.servers import wapang_server

SHELL = {"REQUEST_TIMEOUT": "0.001", "DB_HOST": "shell.invalid", "ENV": "prod"}


@pytest.fixture
def settings_in_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SHELL.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("WAPANG_UNRELATED", "kept")


def test_the_scrubber_keeps_the_shell_but_no_wapang_setting(settings_in_the_shell: None) -> None:
    env = clean_env(DB_PORT=3307)
    assert not set(SHELL) & set(env)
    assert env["DB_PORT"] == "3307"
    assert env["WAPANG_UNRELATED"] == "kept"  # PATH, HOME and the like pass through


def test_the_scrubber_drops_edge_settings_in_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    """The edge reads its settings case-insensitively: a budget or reload mode left in the shell
    would change what a manager process started by a test decides."""
    monkeypatch.setenv("BUDGET_MAX_ORDERS", "0")
    monkeypatch.setenv("nginx_reload", "marker")
    env = clean_env(DOMAINS="shop.wapang.example")
    assert "BUDGET_MAX_ORDERS" not in env
    assert "nginx_reload" not in env
    assert env["DOMAINS"] == "shop.wapang.example"


def test_the_bench_app_gets_its_own_settings_only(settings_in_the_shell: None) -> None:
    env = _app_env(Admin(), "bench-password", pool_size=None)
    assert "REQUEST_TIMEOUT" not in env
    assert (env["ENV"], env["DB_HOST"]) == ("prod", "127.0.0.1")


def test_a_request_timeout_in_the_shell_does_not_reach_a_test_server(
    settings_in_the_shell: None, tmp_path: Path
) -> None:
    """With the shell's REQUEST_TIMEOUT of 1 ms every request would be a 503; with its ENV=prod
    and DB_HOST the server would not even start."""
    with wapang_server(tmp_path) as server:
        for _ in range(3):
            assert httpx.get(f"{server.base_url}/readyz", timeout=10).status_code == 200
