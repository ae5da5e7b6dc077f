"""What every log line and error about the request being served can read, without passing it
down: uvicorn runs each request in a task of its own, so a value set here stays with it."""

from __future__ import annotations

from contextvars import ContextVar

from starlette.requests import Request

request_id: ContextVar[str] = ContextVar("request_id", default="-")


def remember_user(request: Request, user_id: str) -> None:
    """The signed-in user, for the request's log line: kept in the request's own state dict,
    which the middleware that writes the line shares (a context variable set in a dependency
    need not be visible to it)."""
    request.scope.setdefault("state", {})["user_id"] = user_id
