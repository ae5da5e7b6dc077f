"""What an operator sees of the served API (`wapang serve --workers 2`, as deployed): with
LOG_FORMAT=json every line the process writes is one JSON object (start-up, uvicorn's own
messages, request lines, tracebacks), each request's line carries its id, route template,
status, duration and user; `/metrics` sums both workers."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from harness.apps import clean_env, serve_app
from tests.api.conftest import server_env, serving
from tests.api.shop import sign_up, unique_phone


def json_lines(output: str) -> list[dict[str, Any]]:
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(f"a line that is not JSON: {line!r}") from None
    return parsed


async def test_with_json_every_line_is_json_and_a_request_is_found_by_its_id(
    tmp_path: Path,
) -> None:
    with serving("sqlite", tmp_path, LOG_FORMAT="json") as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            shopper = await sign_up(http)
            incoming = f"edge-{uuid.uuid4().hex}"
            looked_up = await http.get(
                f"/api/stores/{uuid.uuid4()}", headers={"X-Request-ID": incoming}
            )
            # A failure the error map has no contract error for: a traceback in the log.
            with sqlite3.connect(tmp_path / "served.db") as database:
                database.execute(
                    "CREATE TRIGGER provoked BEFORE INSERT ON stores "
                    "BEGIN SELECT RAISE(ABORT, 'provoked failure'); END"
                )
            failed = await shopper.request(
                "POST",
                "/api/stores",
                json={
                    "store_name": "provoked",
                    "address": "서울시 관악구",
                    "email": "provoked@example.com",
                    "phone_number": unique_phone(),
                    "delivery_fee": 3000,
                },
            )
        output = server.stop()
    assert looked_up.headers["X-Request-ID"] == incoming
    assert failed.status_code == 500, failed.text
    entries = json_lines(output)

    loggers = {entry["logger"] for entry in entries}
    assert {"wapang", "uvicorn.error", "wapang.request"} <= loggers, loggers
    assert any(entry.get("settings") for entry in entries), "no start-up summary"
    assert all({"time", "level", "message", "request_id"} <= entry.keys() for entry in entries)

    request_line = next(e for e in entries if e.get("request_id") == incoming)
    assert request_line["logger"] == "wapang.request"
    assert request_line["route"] == "/api/stores/{store_id}"
    assert request_line["method"] == "GET"
    assert request_line["status"] == 404
    assert request_line["client"] == "127.0.0.1"
    assert isinstance(request_line["duration_ms"], float | int)

    failure_id = failed.headers["X-Request-ID"]
    about_failure = [e for e in entries if e["request_id"] == failure_id]
    traceback = next(e for e in about_failure if "exception" in e)
    assert "provoked failure" in traceback["exception"]
    assert traceback["exception"].startswith("Traceback")
    failed_line = next(e for e in about_failure if e["logger"] == "wapang.request")
    assert failed_line["status"] == 500
    assert failed_line["route"] == "/api/stores"
    assert failed_line["user_id"] == shopper.id
    assert not any(e["logger"] == "uvicorn.access" for e in entries), "uvicorn's access log is on"


def scraped(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    raise AssertionError(f"no {name}{labels} in the scrape")


def per_worker(directory: Path, route: str, status: str = "200") -> dict[str, float]:
    """http_requests_total for GET `route` `status`, by worker pid, from the workers' own files."""
    counts: dict[str, float] = {}
    for path in directory.glob("counter_*.db"):
        pid = path.stem.removeprefix("counter_")
        for key, value, _, _ in MmapedDict.read_all_values_from_file(str(path)):  # type: ignore[no-untyped-call]
            _, sample, labels, _ = json.loads(key)
            wanted = {"method": "GET", "route": route, "status": status}
            if sample == "http_requests_total" and labels == wanted:
                counts[pid] = counts.get(pid, 0) + value
    return counts


def settled(read: Callable[[], dict[str, float]], expected: int) -> dict[str, float]:
    """The counts once they reach `expected`: a request is counted just after its answer is sent."""
    deadline = time.monotonic() + 5
    counts = read()
    while sum(counts.values()) < expected and time.monotonic() < deadline:
        time.sleep(0.05)
        counts = read()
    return counts


def test_a_scrape_sums_both_workers(tmp_path: Path) -> None:
    metrics_dir = tmp_path / "metrics"
    # /readyz, not /healthz: the start-up wait's requests are not counted in.
    with serving("sqlite", tmp_path, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)) as server:
        sent = 0
        # New connections until both workers have answered some (the kernel spreads them).
        while sent < 400 and (sent < 40 or len(per_worker(metrics_dir, "/readyz")) < 2):
            with httpx.Client(base_url=server.base_url, timeout=10) as fresh:
                assert fresh.get("/readyz").status_code == 200
            sent += 1
        workers = settled(lambda: per_worker(metrics_dir, "/readyz"), sent)
        assert httpx.get(f"{server.base_url}/api/stores/{uuid.uuid4()}").status_code == 404
        scrapes = [httpx.get(f"{server.base_url}/metrics", timeout=10) for _ in range(4)]
    assert len(workers) == 2, workers
    assert sum(workers.values()) == sent
    for scrape in scrapes:
        assert scrape.status_code == 200
        assert scrape.headers["content-type"].startswith("text/plain")
        text = scrape.text
        total = scraped(text, "http_requests_total", method="GET", route="/readyz", status="200")
        assert total == sent, (total, sent, workers)
        count = scraped(text, "http_request_duration_seconds_count", route="/readyz")
        assert count == sent
        assert scraped(text, "wapang_ready") == 1
        assert scraped(text, "wapang_db_pool_wait_seconds_count", pool="read") >= 1
        assert re.search(r"^wapang_db_pool_connections_in_use\{pool=\"read\"\} ", text, re.M)


def test_two_workers_writing_one_pipe_deliver_every_request_line_once(tmp_path: Path) -> None:
    """As under docker, both workers write into one pipe: 600 request lines of 1.5 kB, held and
    written a batch at a time (up to the workers' stop), arrive whole, each exactly once. That
    no piece of a batch exceeds PIPE_BUF, the pipe's unit of an uninterrupted write, is checked
    in tests/unit/test_request_lines.py."""
    pipe = tmp_path / "stderr.pipe"
    os.mkfifo(pipe)
    received = bytearray()

    def read_the_pipe() -> None:
        with open(pipe, "rb", buffering=0) as reading:
            while chunk := reading.read(65536):
                received.extend(chunk)

    reader = threading.Thread(target=read_the_pipe)
    reader.start()
    metrics_dir = tmp_path / "metrics"
    env = server_env(
        "sqlite", tmp_path, "", LOG_FORMAT="json", PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)
    )
    service = serve_app("wapang", pipe, clean_env(**env), "--workers", "2", cwd=tmp_path)
    try:
        service.wait_ready(warm=0)
        sent = [f"pipe-{number}" for number in range(600)]

        async def send_all() -> None:
            limits = httpx.Limits(max_connections=48)
            async with httpx.AsyncClient(base_url=service.url, limits=limits) as http:
                answers = await asyncio.gather(
                    *(
                        http.get("/unknown/" + "x" * 1500, headers={"X-Request-ID": one})
                        for one in sent
                    )
                )
            assert {answer.status_code for answer in answers} == {404}

        asyncio.run(send_all())
        workers = settled(lambda: per_worker(metrics_dir, "unmatched", "404"), len(sent))
    finally:
        service.stop(timeout=15)
        reader.join(timeout=30)
    assert len(workers) == 2, f"one worker served every request: {workers}"
    entries = json_lines(received.decode())
    logged = [
        entry["request_id"]
        for entry in entries
        if entry["logger"] == "wapang.request" and entry["request_id"].startswith("pipe-")
    ]
    assert sorted(logged) == sorted(sent)
