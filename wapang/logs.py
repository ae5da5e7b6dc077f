"""Logging for every wapang process: standard library logging, one line per record, either text
(local) or one JSON object per line (LOG_FORMAT=json, the default with ENV=prod), so a log
shipper never meets a stray text line. Every record carries the id of the request being served
(`api/request_context.request_id`), and whatever a caller passes in `extra=` (the audit events'
`event`, `user_id`, ...) becomes a field of its own.

One kind of line is not a logging record: the request lines with LOG_FORMAT=json (`RequestLog`)."""

from __future__ import annotations

import logging
import logging.config
import math
import select
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any, NamedTuple, TextIO

import msgspec

from wapang.api.request_context import request_id

# What a record would otherwise gather on every call and no line of ours prints (the logging
# HOWTO's "Optimization"): the caller's file and line, thread, process and multiprocessing
# names. Every request logs a line, and finding its caller alone was 6% of that line's samples
# in a users/me profile. Set on import, not in configure_logging: uvicorn's workers configure
# logging from logging_config's dict, which imports this module without calling it.
logging._srcfile = None
logging.logThreads = False
logging.logProcesses = False
logging.logMultiprocessing = False


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record: from `extra=` when given, else the request served."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


def _iso_time(created: float) -> str:
    """`2026-12-07T03:06:09.528+00:00`, as `datetime.isoformat(timespec="milliseconds")` writes
    it (the fraction rounded to the microsecond, then cut to the millisecond)."""
    fraction, whole = math.modf(created)
    microseconds = round(fraction * 1_000_000)
    second = int(whole) + microseconds // 1_000_000
    return f"{_iso_second(second)}.{microseconds % 1_000_000 // 1000:03d}+00:00"


@lru_cache(maxsize=8)  # a batch of request lines shares a second or two
def _iso_second(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request_id, the `extra=` fields
    and, for an exception, its traceback as one string (still one line).

    msgspec writes it: every request logs a line, and the standard library's json took a quarter
    of the request line's cost (bench/README.md "Request logging and metrics"). A value it
    cannot encode is written as its str()."""

    _encoder = msgspec.json.Encoder(enc_hook=str)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _iso_time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return self._encoder.encode(entry).decode()


class TextFormatter(logging.Formatter):
    """`time level logger [request id] message key=value ...` for a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = " ".join(
            f"{key}={value}"
            for key, value in record.__dict__.items()
            if key not in _RECORD_ATTRIBUTES and key != "request_id"
        )
        if not extras:
            return line
        first, newline, rest = line.partition("\n")  # after the message, before a traceback
        return f"{first} {extras}{newline}{rest}"


def logging_config(log_format: LogFormat, level: str = "INFO") -> dict[str, Any]:
    """A dictConfig for the process (uvicorn's `log_config` too, so each worker applies it):
    one handler on stderr for every logger, uvicorn's access log off (the app logs each request
    itself, with its id, route template and duration)."""
    formatter = "json" if log_format is LogFormat.JSON else "text"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {
            "json": {"()": JsonFormatter},
            "text": {"()": TextFormatter},
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": formatter,
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            # uvicorn's loggers propagate to the root's handler: same format, same stream.
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "alembic.runtime.plugins": {"level": "WARNING"},  # a line per plugin at each start
            # httpx logs each request's full URL at INFO: the alert webhook's URL is a secret.
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
        },
    }


def configure_logging(log_format: LogFormat, level: str = "INFO") -> None:
    logging.config.dictConfig(logging_config(log_format, level))
    sys.excepthook = _log_uncaught


def _log_uncaught(kind: type[BaseException], error: BaseException, traceback: Any) -> None:
    """An exception that ends the process is logged like any other (one JSON line with json)."""
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, traceback)
        return
    logging.getLogger("wapang").critical("uncaught exception", exc_info=(kind, error, traceback))


REQUEST_LOGGER = "wapang.request"
request_logger = logging.getLogger(REQUEST_LOGGER)


class RequestLine(NamedTuple):
    """What the line of one answered request says."""

    time: float  # time.time() when it was answered
    request_id: str
    method: str
    route: str  # the template, never the raw path: one series per route
    path: str
    status: int
    seconds: float
    user_id: str | None
    client: str | None  # the client's address as the edge saw it

    @property
    def message(self) -> str:
        return f"{self.method} {self.route} {self.status}"

    @property
    def duration_ms(self) -> float:
        return round(self.seconds * 1000, 2)


class _JsonRequestLine(msgspec.Struct):
    """JsonFormatter's fields for a record of `wapang.request`, in its order, and the line's."""

    time: str
    level: str
    logger: str
    message: str
    request_id: str
    method: str
    route: str
    path: str
    status: int
    duration_ms: float
    user_id: str | None
    client: str | None


class RequestLog:
    """Writes request lines, many at a time (api/telemetry.py buffers them): with
    LOG_FORMAT=json as the very objects JsonFormatter writes, encoded by msgspec in one call and
    written in pieces of whole lines, each at most PIPE_BUF bytes, so that on the pipe every
    worker shares (docker's log) no piece is interleaved with another process's; with
    LOG_FORMAT=text through logging, one record each.

    The JSON lines skip logging's records on purpose: served under load, a record through
    logging's handler machinery cost 50-60 µs of CPU, five times its cost in a quiet loop
    (bench/README.md, "Request logging and metrics"). Every other line is a record."""

    def __init__(self, log_format: LogFormat, stream: TextIO | None = None) -> None:
        self._json = log_format is LogFormat.JSON
        self._stream = stream  # None: sys.stderr when writing, as the logging handler's
        self._encoder = msgspec.json.Encoder()

    def write(self, lines: Sequence[RequestLine]) -> None:
        if not lines or not request_logger.isEnabledFor(logging.INFO):
            return
        if self._json:
            self._write_json(lines)
            return
        for line in lines:
            request_logger.info(
                line.message,
                extra={
                    "request_id": line.request_id,
                    "method": line.method,
                    "route": line.route,
                    "path": line.path,
                    "status": line.status,
                    "duration_ms": line.duration_ms,
                    "user_id": line.user_id,
                    "client": line.client,
                },
            )

    def _write_json(self, lines: Sequence[RequestLine]) -> None:
        objects = [
            _JsonRequestLine(
                _iso_time(line.time),
                "info",
                REQUEST_LOGGER,
                line.message,
                line.request_id,
                line.method,
                line.route,
                line.path,
                line.status,
                line.duration_ms,
                line.user_id,
                line.client,
            )
            for line in lines
        ]
        stream = self._stream or sys.stderr
        try:
            for piece in _whole_lines(self._encoder.encode_lines(objects), select.PIPE_BUF):
                stream.write(piece.decode())
                stream.flush()
        except (OSError, ValueError):  # stderr closed: as a logging handler, never fail a request
            pass


def _whole_lines(data: bytes, limit: int) -> Iterator[bytes]:
    """`data` in pieces of whole lines, each at most `limit` bytes unless a line alone is
    longer."""
    start = 0
    while len(data) - start > limit:
        cut = data.rfind(b"\n", start, start + limit) + 1
        if cut <= start:
            cut = data.index(b"\n", start) + 1
        yield data[start:cut]
        start = cut
    if start < len(data):
        yield data[start:]
