"""Audit events: one structured log record per security-relevant event, on `wapang.audit`.

Each record carries `event`, `user_id` and `request_id` (and the event's own fields) as
attributes, for a JSON formatter to serialise, and the same in its message for plain logs.
Callers pass identifiers only: never a password, token, hash, secret or e-mail address.
"""

from __future__ import annotations

import logging

from wapang.api.request_context import request_id

logger = logging.getLogger("wapang.audit")


def audit(event: str, user_id: str | None, **fields: str | int | None) -> None:
    record = {"event": event, "user_id": user_id, "request_id": request_id.get(), **fields}
    details = " ".join(f"{name}={value}" for name, value in record.items())
    logger.info("audit %s", details, extra=record)
