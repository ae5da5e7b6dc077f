"""What every log line and error about the request being served can read, without passing it
down: uvicorn runs each request in a task of its own, so a value set here stays with it."""

from __future__ import annotations

from contextvars import ContextVar

request_id: ContextVar[str] = ContextVar("request_id", default="-")
