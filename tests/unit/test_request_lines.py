"""The request lines: with json the very object JsonFormatter writes for a record of
`wapang.request`, many lines written in pieces of whole lines no longer than PIPE_BUF; the
buffer of api/telemetry.py writes them (and counts their metrics) a batch at a time with json,
at once with text, and never holds a line past a flush."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import select
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY

from wapang.api import telemetry
from wapang.api.telemetry import RequestTelemetryBuffer
from wapang.logs import (
    JsonFormatter,
    LogFormat,
    RequestIdFilter,
    RequestLine,
    RequestLog,
    _iso_time,
    _whole_lines,
)


@pytest.fixture(autouse=True)
def request_lines_on() -> Iterator[None]:
    """INFO, as `wapang serve` configures logging: a request line is written only then."""
    request_logger = logging.getLogger("wapang.request")
    request_logger.setLevel(logging.INFO)
    yield
    request_logger.setLevel(logging.NOTSET)


def a_line(
    number: int = 1, path: str = "/api/users/me", user_id: str | None = "u-1"
) -> RequestLine:
    return RequestLine(
        time.time(), f"r-{number}", "GET", "/api/users/me", path, 200, 0.01234, user_id, "10.0.0.9"
    )


def test_a_json_line_is_the_object_the_formatter_writes_for_a_record() -> None:
    line = a_line()
    stream = io.StringIO()
    RequestLog(LogFormat.JSON, stream).write([line])

    record = logging.LogRecord("wapang.request", logging.INFO, "", 0, "%s %s %s", None, None)
    record.msg, record.args = "%s %s %s", ("GET", "/api/users/me", 200)
    record.created = line.time
    fields = {
        "request_id": "r-1",
        "method": "GET",
        "route": "/api/users/me",
        "path": "/api/users/me",
        "status": 200,
        "duration_ms": 12.34,
        "user_id": "u-1",
        "client": "10.0.0.9",
    }
    record.__dict__.update(fields)
    expected = json.loads(JsonFormatter().format(record))

    written = stream.getvalue()
    assert written.endswith("\n")
    assert written.count("\n") == 1
    assert list(json.loads(written).items()) == list(expected.items())


def test_a_text_line_goes_through_logging_with_its_own_request_id() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(logging.Formatter("%(name)s [%(request_id)s] %(message)s %(status)s"))
    request_logger = logging.getLogger("wapang.request")
    request_logger.addHandler(handler)
    try:
        RequestLog(LogFormat.TEXT).write([a_line(7)])
    finally:
        request_logger.removeHandler(handler)
    assert stream.getvalue() == "wapang.request [r-7] GET /api/users/me 200 200\n"


class Pieces(io.StringIO):
    """Each flushed write, as the pipe would receive it."""

    def __init__(self) -> None:
        super().__init__()
        self.pieces: list[str] = []

    def write(self, text: str) -> int:
        self.pieces.append(text)
        return len(text)


def test_many_lines_are_written_in_whole_lines_of_at_most_pipe_buf_bytes() -> None:
    stream = Pieces()
    long_path = "/api/" + "x" * 700
    lines = [a_line(number, long_path) for number in range(40)]
    RequestLog(LogFormat.JSON, stream).write(lines)

    assert len(stream.pieces) > 1
    for piece in stream.pieces:
        assert len(piece.encode()) <= select.PIPE_BUF
        assert piece.endswith("\n")
    written = [json.loads(text) for text in "".join(stream.pieces).splitlines()]
    assert [entry["request_id"] for entry in written] == [f"r-{n}" for n in range(40)]


def test_whole_lines_keep_a_line_longer_than_the_limit_whole_and_alone() -> None:
    data = b"a\n" + b"b" * 10 + b"\n" + b"c\nd\n"
    pieces = list(_whole_lines(data, 4))
    assert pieces == [b"a\n", b"bbbbbbbbbb\n", b"c\nd\n"]
    assert list(_whole_lines(b"", 4)) == []


def started(log_format: LogFormat) -> RequestTelemetryBuffer:
    buffer = RequestTelemetryBuffer()
    buffer.start(log_format)
    return buffer


def served_count() -> float:
    labels = {"method": "GET", "route": "/api/users/me", "status": "200"}
    return REGISTRY.get_sample_value("http_requests_total", labels) or 0.0


async def test_with_json_a_batch_is_written_after_the_flush_delay_with_its_metrics(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = io.StringIO()
    buffer = started(LogFormat.JSON)
    monkeypatch.setattr(buffer, "_log", RequestLog(LogFormat.JSON, stream))
    counted_before = served_count()

    for number in range(3):
        buffer.record(a_line(number))
    assert stream.getvalue() == ""  # held: the requests around them join the batch
    assert served_count() == counted_before

    await asyncio.sleep(telemetry.FLUSH_SECONDS * 3)
    assert [json.loads(line)["request_id"] for line in stream.getvalue().splitlines()] == [
        "r-0",
        "r-1",
        "r-2",
    ]
    assert served_count() == counted_before + 3

    buffer.record(a_line(3))
    buffer.flush()  # as the lifespan's end does
    assert stream.getvalue().splitlines()[-1].count('"r-3"') == 1


async def test_with_json_a_full_buffer_is_written_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    buffer = started(LogFormat.JSON)
    monkeypatch.setattr(buffer, "_log", RequestLog(LogFormat.JSON, stream))
    for number in range(telemetry.MOST_PENDING):
        buffer.record(a_line(number))
    assert len(stream.getvalue().splitlines()) == telemetry.MOST_PENDING
    buffer.record(a_line())
    assert len(stream.getvalue().splitlines()) == telemetry.MOST_PENDING
    buffer.flush()
    assert len(stream.getvalue().splitlines()) == telemetry.MOST_PENDING + 1


@pytest.mark.parametrize("log_format", list(LogFormat))
def test_with_text_or_outside_an_event_loop_each_line_is_written_at_once(
    log_format: LogFormat, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[list[RequestLine]] = []
    buffer = started(log_format)
    monkeypatch.setattr(buffer._log, "write", lambda lines: written.append(list(lines)))
    line = a_line(1)
    buffer.record(line)
    assert written == [[line]]


def test_below_info_nothing_is_written() -> None:
    stream = io.StringIO()
    logging.getLogger("wapang.request").setLevel(logging.WARNING)
    RequestLog(LogFormat.JSON, stream).write([a_line()])
    assert stream.getvalue() == ""


@pytest.mark.parametrize(
    "created",
    [0.0, 1796624243.0, 1796624243.6599998, 1796624243.9995, 1796624243.9999996, 1796624243.0004],
)
def test_the_time_is_written_as_isoformat_writes_it(created: float) -> None:
    expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    assert _iso_time(created) == expected
