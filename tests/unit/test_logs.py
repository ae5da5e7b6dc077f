"""The log formats: with json one object per record, `extra=` fields (the audit events' `event`,
`user_id`, `request_id`) as fields of their own, a traceback as one string; the request being
served gives records their `request_id` when none is passed."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import sys

from wapang.api.request_context import request_id
from wapang.logs import LogFormat, configure_logging


def captured(log_format: LogFormat, emit: object) -> str:
    configure_logging(log_format)
    stream = io.StringIO()
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    try:
        assert callable(emit)
        emit()
    finally:
        logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})
        logging.getLogger().handlers.clear()
        sys.excepthook = sys.__excepthook__
    return stream.getvalue()


def test_an_audit_event_keeps_its_fields() -> None:
    audit = logging.getLogger("wapang.audit")
    output = captured(
        LogFormat.JSON,
        lambda: audit.info(
            "signed in", extra={"event": "signin", "user_id": "u-1", "request_id": "r-1"}
        ),
    )
    entry = json.loads(output)
    assert entry["event"] == "signin"
    assert entry["user_id"] == "u-1"
    assert entry["request_id"] == "r-1"
    assert entry["logger"] == "wapang.audit"
    assert entry["level"] == "info"


def test_a_traceback_is_one_line_with_the_request_id() -> None:
    token = request_id.set("req-42")

    def fail() -> None:
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("wapang").exception("unexpected error")

    try:
        output = captured(LogFormat.JSON, fail)
    finally:
        request_id.reset(token)
    assert len(output.splitlines()) == 1
    entry = json.loads(output)
    assert entry["request_id"] == "req-42"
    assert "ValueError: boom" in entry["exception"]


def test_text_shows_the_request_id_and_the_extras() -> None:
    output = captured(
        LogFormat.TEXT,
        lambda: logging.getLogger("wapang.audit").info("signed in", extra={"event": "signin"}),
    )
    assert "[-] signed in event=signin" in output
