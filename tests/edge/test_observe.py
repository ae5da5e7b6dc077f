"""The certificate manager's loop as its operator sees it (`wapang certs run`, a real process):
each pass is one JSON event, its outcome is on the loop's Prometheus exporter, and a failed pass
is pushed to ALERT_WEBHOOK_URL — a real local HTTP receiver that refuses the first delivery,
so the retry is exercised — without the secret URL ever reaching the log."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness.apps import clean_env
from harness.processes import LOOPBACK, free_port

SECRET_PATH = "/hooks/T000-secret-token-of-the-webhook"


class Receiver:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.attempts = 0


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    received = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.attempts += 1
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if received.attempts == 1:  # the first delivery fails: the sender must retry
                self.send_response(503)
            else:
                received.bodies.append(json.loads(body))
                self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer((LOOPBACK, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield received, f"http://{LOOPBACK}:{server.server_port}{SECRET_PATH}"
    server.shutdown()


def scrape(port: int, deadline: float) -> dict[str, float]:
    while True:
        try:
            text = httpx.get(f"http://{LOOPBACK}:{port}/metrics", timeout=2).text
            samples = {
                sample.name: sample.value
                for family in text_string_to_metric_families(text)
                for sample in family.samples
            }
            if samples.get("wapang_certificate_last_pass_timestamp_seconds", 0) > 0:
                return samples
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("the exporter never showed a pass")
        time.sleep(0.2)


def test_a_failed_pass_is_an_event_a_metric_and_an_alert(
    tmp_path: Path, receiver: tuple[Receiver, str]
) -> None:
    received, url = receiver
    metrics_port = free_port()
    env = clean_env(
        DOMAINS="shop.wapang.example",
        CERTBOT_BIN=tmp_path / "no-such-certbot",  # the pass cannot run
        CERTBOT_CONFIG_DIR=tmp_path / "letsencrypt",
        CERTBOT_WORK_DIR=tmp_path / "work",
        CERTBOT_LOGS_DIR=tmp_path / "logs",
        LEDGER_DIR=tmp_path / "ledger",
        WEBROOT=tmp_path / "webroot",
        METRICS_PORT=metrics_port,
        ALERT_WEBHOOK_URL=url,
        LOG_FORMAT="json",
    )
    loop = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wapang.cli",
            "certs",
            "run",
            "--interval",
            "4",
            "--max-passes",
            "2",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        samples = scrape(metrics_port, time.monotonic() + 30)
        output, _ = loop.communicate(timeout=60)
    finally:
        if loop.poll() is None:
            loop.kill()
    assert samples["wapang_certificate_last_pass_success"] == 0
    assert samples["wapang_certificate_last_pass_timestamp_seconds"] > time.time() - 120

    lines = [json.loads(line) for line in output.splitlines() if line.strip()]  # all JSON
    passes = [line for line in lines if line.get("event") == "certificate_pass"]
    assert len(passes) == 2, output
    assert passes[0]["ok"] is False
    assert passes[0]["level"] == "error"

    assert received.attempts >= 3  # the refused first delivery, then one per failed pass
    body = received.bodies[0]
    assert "certificate renewal pass failed" in body["text"]  # Slack's field
    assert body["source"] == "certificate manager"
    assert body["details"]["names"] == ["shop.wapang.example"]
    assert "secret-token" not in output
