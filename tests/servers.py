"""Real server processes for tests: started on a free loopback port, stopped by PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from wapang.config import Settings

WAPANG = str(Path(sys.executable).with_name("wapang"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def clean_env(**values: object) -> dict[str, str]:
    """The process environment without any wapang setting, plus `values`."""
    env = {k: v for k, v in os.environ.items() if k not in Settings.model_fields}
    return {**env, **{name: str(value) for name, value in values.items()}}


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def stop(self) -> str:
        """Stop by PID (SIGTERM, then SIGKILL) and return what it printed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        return self.output()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def wait_until_healthy(server: Server, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"the server exited early:\n{server.stop()}")
        try:
            if httpx.get(f"{server.base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"the server did not come up in {timeout} s:\n{server.stop()}")


@contextmanager
def wapang_server(cwd: Path, *args: str, **env: object) -> Iterator[Server]:
    """`wapang serve` with the given settings as environment variables."""
    port = free_port()
    log = cwd / f"wapang-{port}.log"
    # A file, not a pipe: a pipe nobody reads fills up and blocks the server's logging.
    with log.open("wb") as output:
        process = subprocess.Popen(
            [WAPANG, "serve", "--port", str(port), *args],
            cwd=cwd,
            env=clean_env(**env),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        wait_until_healthy(server)
        yield server
    finally:
        server.stop()
