"""Server processes started on a free loopback port, logging to a file, stopped by their own
PID (never by name: other engineers' servers run beside these)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

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
    stopped by its own PID only. With `group`, it leads its own process group, so workers a
    dying supervisor leaves behind are stopped too."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    stop_signal: int = signal.SIGTERM
    port: int = 0
    scheme: str = "http"
    group: bool = False
    # A TLS server that answers only by name (the edge refuses a handshake without SNI): probed
    # by that name on loopback, and named in `client_url`.
    server_name: str | None = None

    @classmethod
    def start(
        cls,
        name: str,
        args: list[str],
        log: Path,
        env: dict[str, str] | None = None,
        stop_signal: int = signal.SIGTERM,
        cwd: Path | None = None,
        port: int = 0,
        scheme: str = "http",
        group: bool = False,
    ) -> Service:
        with log.open("wb") as handle:
            process = subprocess.Popen(
                args,
                stdout=handle,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                start_new_session=group,
            )
        return cls(name, process, log, stop_signal, port, scheme, group)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{LOOPBACK}:{self.port}"

    @property
    def client_url(self) -> str:
        """The address a client uses: the server's name when it has one (reached on loopback)."""
        return f"{self.scheme}://{self.server_name or LOOPBACK}:{self.port}"

    def _probe(self, path: str, timeout: float) -> httpx.Response:
        if self.server_name is None:
            return httpx.get(self.url + path, timeout=timeout, verify=False)
        with httpx.Client(verify=False, timeout=timeout) as client:
            return client.get(
                self.url + path,
                headers={"Host": self.server_name},
                extensions={"sni_hostname": self.server_name},
            )

    def wait_ready(self, path: str = "/healthz", timeout: float = 30, warm: int = 8) -> None:
        """Until `path` answers 200, then `warm` more requests (every worker has been hit)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start-up:\n{self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if self._probe(path, timeout=1).status_code == 200:
                    for _ in range(warm):
                        self._probe(path, timeout=5).raise_for_status()
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {timeout}s:\n{self.tail()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.output().splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 5) -> None:
        """The stop signal, then SIGKILL after `timeout` seconds (and to its group)."""
        if self.process.poll() is None:
            os.kill(self.process.pid, self.stop_signal)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        if self.group:  # the group we started, by its leader's PID
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
