"""Logging for every wapang process: standard library logging, one line per record, either text
(local) or one JSON object per line (LOG_FORMAT=json, the default with ENV=prod), so a log
shipper never meets a stray text line. Every record carries the id of the request being served
(`api/request_context.request_id`), and whatever a caller passes in `extra=` (the audit events'
`event`, `user_id`, ...) becomes a field of its own."""

from __future__ import annotations

import logging
import logging.config
import sys
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

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


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request_id, the `extra=` fields
    and, for an exception, its traceback as one string (still one line).

    msgspec writes it: every request logs a line, and the standard library's json took a quarter
    of the request line's cost (bench/README.md "Request logging and metrics"). A value it
    cannot encode is written as its str()."""

    _encoder = msgspec.json.Encoder(enc_hook=str)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
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
