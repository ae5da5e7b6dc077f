"""The two servers of a run: the app as production runs it, and the ceiling beside it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
WAPANG = Path(sys.executable).parent / "wapang"  # the console script `uv run wapang` runs


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def wait_ready(self, path: str = "/healthz", timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start-up:\n{self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + path, timeout=1, verify=False).status_code == 200:
                    # Both workers answer once each has been hit a few times.
                    for _ in range(8):
                        httpx.get(self.url + path, timeout=5, verify=False).raise_for_status()
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {timeout}s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """SIGTERM to the uvicorn supervisor we started (it stops its workers), then its group."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        # Workers left behind by a supervisor that died: same process group, started by us.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)


def start(name: str, command: list[str], env: dict[str, str], port: int, log: Path) -> Server:
    handle = log.open("wb")
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: see Server.stop
    )
    handle.close()
    return Server(name, process, port, log)


def start_app(env: dict[str, str], workers: int, log: Path) -> Server:
    port = free_port()
    command = [str(WAPANG), "serve", "--port", str(port), "--workers", str(workers)]
    return start("app", command, env, port, log)


def start_app_granian(env: dict[str, str], workers: int, log: Path) -> Server:
    """The same app under granian (Rust HTTP server), the server stack's measured alternative:
    HTTP/1.1, uvloop and an access log, as uvicorn runs it in `wapang serve`."""
    port = free_port()
    command = [
        str(WAPANG.with_name("granian")),
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


def start_ceiling(env: dict[str, str], workers: int, log: Path) -> Server:
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


def start_db_ceiling(env: dict[str, str], workers: int, log: Path) -> Server:
    port = free_port()
    command = [sys.executable, "-m", "bench.dbceiling", "--port", str(port)]
    return start("db-ceiling", [*command, "--workers", str(workers)], env, port, log)


def migrate(env: dict[str, str], log: Path) -> None:
    with log.open("ab") as handle:
        subprocess.run(
            [str(WAPANG), "db", "upgrade"],
            cwd=REPO,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=120,
        )
