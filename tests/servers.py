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


LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A port free for TCP and UDP on loopback (the edge's DNS mock needs both)."""
    while True:
        with socket.socket() as tcp:
            tcp.bind((LOOPBACK, 0))
            port = int(tcp.getsockname()[1])
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.bind((LOOPBACK, port))
        except OSError:
            continue
        return port


def wait_for_port(
    port: int, process: subprocess.Popen[bytes], name: str, timeout: float = 15
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited early with {process.returncode}")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{name} did not open port {port} within {timeout}s")


@dataclass
class Service:
    """A server we started, logging to a file (a pipe nobody reads fills up and blocks it);
    stopped by its own PID only."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    stop_signal: int = signal.SIGTERM

    @classmethod
    def start(
        cls,
        name: str,
        args: list[str],
        log: Path,
        env: dict[str, str] | None = None,
        stop_signal: int = signal.SIGTERM,
        cwd: Path | None = None,
    ) -> Service:
        with log.open("wb") as handle:
            process = subprocess.Popen(
                args,
                stdout=handle,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
            )
        return cls(name, process, log, stop_signal)

    def stop(self, timeout: float = 5) -> None:
        """The stop signal, then SIGKILL after `timeout` seconds."""
        if self.process.poll() is not None:
            return
        os.kill(self.process.pid, self.stop_signal)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)


def clean_env(**values: object) -> dict[str, str]:
    """The process environment without any wapang setting, plus `values`."""
    env = {k: v for k, v in os.environ.items() if k not in Settings.model_fields}
    return {**env, **{name: str(value) for name, value in values.items()}}


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
        return self.service.log.read_text(errors="replace")


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
    )
    server = Server(service, f"http://{LOOPBACK}:{port}")
    try:
        wait_until_healthy(server)
        yield server
    finally:
        server.stop()
