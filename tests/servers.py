"""`wapang serve` as a process for a test: on a free loopback port, its settings as environment
variables (and none from the shell), stopped by PID (processes: harness/processes.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness.apps import clean_env, serve_app
from harness.processes import Service, free_port
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


@contextmanager
def wapang_server(cwd: Path, *args: str, **env: object) -> Iterator[Server]:
    """`wapang serve` with the given settings as environment variables."""
    port = free_port()
    log = cwd / f"wapang-{port}.log"
    service = serve_app("wapang", log, clean_env(**env), *args, port=port, cwd=cwd)
    server = Server(service, service.url)
    try:
        service.wait_ready(warm=0)
        yield server
    finally:
        server.stop()
