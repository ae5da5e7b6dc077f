"""The `wapang` command and the server as a user starts them: real processes, real ports."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import WAPANG, Server, clean_env, free_port, wapang_server

STRONG = {
    "ACCESS_TOKEN_SECRET": "a" * 16 + "Zk3Lq9Xv7PbR2mTy",
    "REFRESH_TOKEN_SECRET": "b" * 16 + "Hn4Wc8Jd6FsG1uQe",
}


def run(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [WAPANG, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_check_config_lists_every_problem_and_fails(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("ENV=prod\nDB_DIALECT=mysql\nDB_HOST=db\nACCESS_TOKEN_SECRET=changeme\n")
    result = run("check-config", "--env-file", str(env_file), cwd=tmp_path, env=clean_env())
    assert result.returncode == 2
    output = " ".join(result.stderr.split())
    for expected in (
        "DB_USER is missing",
        "DB_PASSWORD is missing",
        "DB_DATABASE is missing",
        "ACCESS_TOKEN_SECRET looks like a placeholder",
        "REFRESH_TOKEN_SECRET is missing",
    ):
        assert expected in output
    assert "Traceback" not in result.stderr + result.stdout


def test_check_config_summarises_a_good_file_without_secrets(tmp_path: Path) -> None:
    env_file = tmp_path / "prod.env"
    lines = {
        "ENV": "prod",
        "DB_DIALECT": "mysql",
        "DB_DRIVER": "pymysql",
        "DB_HOST": "db.internal",
        "DB_USER": "wapang",
        "DB_PASSWORD": "pw-0123456789",
        "DB_DATABASE": "wapang",
        **STRONG,
    }
    env_file.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
    result = run("check-config", "--env-file", str(env_file), cwd=tmp_path, env=clean_env())
    assert result.returncode == 0, result.stderr
    assert "configuration: OK" in result.stdout
    assert "mysql+aiomysql wapang@db.internal:3306/wapang" in result.stdout
    for secret in ("pw-0123456789", *STRONG.values()):
        assert secret not in result.stdout + result.stderr


def test_check_config_with_a_missing_env_file_fails(tmp_path: Path) -> None:
    result = run("check-config", "--env-file", "nope.env", cwd=tmp_path, env=clean_env())
    assert result.returncode == 2
    assert "does not exist" in result.stderr


def test_uvicorn_refuses_to_start_a_misconfigured_production_app(tmp_path: Path) -> None:
    env = clean_env(ENV="prod", DB_DIALECT="mysql")
    result = subprocess.run(
        [sys.executable, "-m", "uvicorn", "wapang.api.main:app", "--port", str(free_port())],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "configuration problem(s)" in result.stderr
    assert "ACCESS_TOKEN_SECRET is missing" in result.stderr
    assert "DB_HOST is missing" in result.stderr


@pytest.fixture
def local_server(tmp_path: Path) -> Iterator[Server]:
    """`wapang serve` in an empty directory with no configuration at all."""
    with wapang_server(tmp_path) as server:
        yield server


def test_serve_runs_locally_on_sqlite_with_no_configuration(
    local_server: Server, tmp_path: Path
) -> None:
    base = local_server.base_url
    created = httpx.post(
        f"{base}/api/users", json={"email": "new@example.com", "password": "password1"}
    )
    assert created.status_code == 201
    assert httpx.get(f"{base}/readyz").json()["status"] == "ready"
    assert (tmp_path / ".wapang" / "wapang.db").exists()
    output = local_server.stop()
    assert "generated development secrets" in output
    assert "sqlite file .wapang/wapang.db" in output
