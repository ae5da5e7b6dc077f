"""`wapang serve` as a process for a test: on a free loopback port, its settings as environment
variables (and none from the shell), stopped by PID (processes: harness/processes.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from harness.apps import WAPANG, clean_env
from harness.processes import LOOPBACK, Service, free_port
from wapang.config import Settings


@dataclass
class Server:
    service: Service
    base_url: str
    # The settings of the server's database, for tests that read or write rows behind its back.
    database: Settings | None = None

    def stop(self) -> str:
        """Stop by PID (SIGTERM, then SIGKILL) and return what it printed."""
        self.service.stop(timeout=15)
        return self.output()

    def output(self) -> str:
        return self.service.output()


def wait_until_healthy(server: Server, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.service.process.poll() is not None:
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
    service = Service.start(
        "wapang",
        [WAPANG, "serve", "--port", str(port), *args],
        cwd / f"wapang-{port}.log",
        env=clean_env(**env),
        cwd=cwd,
        port=port,
    )
    server = Server(service, f"http://{LOOPBACK}:{port}")
    try:
        wait_until_healthy(server)
        yield server
    finally:
        server.stop()
