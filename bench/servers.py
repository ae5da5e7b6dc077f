"""The servers of a run: the app as production runs it (uvicorn, or granian), and the two
ceilings beside it; processes: harness/processes.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.apps import WAPANG, serve_app
from harness.processes import Service, free_port

REPO = Path(__file__).resolve().parent.parent


def start(name: str, command: list[str], env: dict[str, str], port: int, log: Path) -> Service:
    """In its own process group: a supervisor's workers are stopped with it (Service.stop)."""
    return Service.start(name, command, log, env=env, cwd=REPO, port=port, group=True)


def start_app(env: dict[str, str], workers: int, log: Path) -> Service:
    """`wapang serve` as harness/apps.py starts it, in its own process group (see start)."""
    return serve_app("app", log, env, "--workers", str(workers), cwd=REPO, group=True)


def start_app_untraced(env: dict[str, str], workers: int, log: Path) -> Service:
    """The same app, server and settings without its request telemetry (bench/untraced.py):
    the "before" of what request logging and metrics cost."""
    port = free_port()
    command = [WAPANG, "serve", "--port", str(port), "--workers", str(workers)]
    command += ["--app", "bench.untraced:app"]
    # The workers import bench.untraced by name: the checkout on their path.
    env = {**env, "PYTHONPATH": str(REPO)}
    return start("app-untraced", command, env, port, log)


def start_app_granian(env: dict[str, str], workers: int, log: Path) -> Service:
    """The same app under granian (Rust HTTP server), the server stack's measured alternative:
    HTTP/1.1, uvloop and an access log, as uvicorn runs it in `wapang serve`."""
    port = free_port()
    command = [
        str(str(Path(WAPANG).with_name("granian"))),
        "--interface",
        "asgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--loop",
        "uvloop",
        "--http",
        "1",
        "--no-ws",
        "--access-log",
        "wapang.api.main:app",
    ]
    return start("app-granian", command, env, port, log)


def start_ceiling(env: dict[str, str], workers: int, log: Path) -> Service:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "bench.ceiling",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    return start("ceiling", command, env, port, log)


def start_db_ceiling(env: dict[str, str], workers: int, log: Path) -> Service:
    port = free_port()
    command = [sys.executable, "-m", "bench.dbceiling", "--port", str(port)]
    return start("db-ceiling", [*command, "--workers", str(workers)], env, port, log)


def migrate(env: dict[str, str], log: Path) -> None:
    with log.open("ab") as handle:
        subprocess.run(
            [WAPANG, "db", "upgrade"],
            cwd=REPO,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=120,
        )
