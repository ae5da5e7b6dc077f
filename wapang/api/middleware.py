"""The API's middleware, outermost first: the response headers every answer carries (and the
request id), trailing slashes, the body limit, the request deadline. Plain ASGI classes: no
per-request objects, unlike BaseHTTPMiddleware."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Mapping

from fastapi import HTTPException
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wapang.api.errors import PayloadTooLarge, ServiceUnavailable, error_response
from wapang.api.request_context import request_id
from wapang.api.telemetry import RequestTelemetryBuffer
from wapang.db.sessions import request_deadline
from wapang.logs import RequestLine
from wapang.metrics import UNMATCHED_ROUTE

logger = logging.getLogger("wapang")

_EDGE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
# The edge sets the same headers; the app sets them too so that a path without nginx (the
# Kubernetes Gateway, `wapang serve`) serves them as well. HSTS is the edge's alone: it
# means nothing over the plain HTTP the app speaks.
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
_API_CSP = "default-src 'none'; frame-ancestors 'none'"
_DOCUMENTATION = ("/docs", "/redoc")  # Swagger UI and ReDoc load scripts: no CSP there


class HttpMiddleware:
    """Plain ASGI middleware for HTTP requests (no per-request objects, unlike BaseHTTPMiddleware).

    Each one's `__call__` first passes any other scope (the lifespan) straight through, rather
    than a shared `__call__` dispatching to a handler: a request's task resumes through every
    coroutine frame of its chain at each await, and a second frame per layer was measurable
    (bench/README.md, "Orders at the driver")."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app


class StripTrailingSlash(HttpMiddleware):
    """Answers `/api/users/` as `/api/users` directly: a redirect behind a TLS proxy would
    send clients to plain http."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if len(path) > 1 and path.endswith("/"):
            # In place, not a copy: RequestTelemetry reads the route the router writes into it.
            scope["path"] = path.rstrip("/") or "/"
            scope["raw_path"] = scope["path"].encode()
        await self.app(scope, receive, send)


class BodySizeLimit(HttpMiddleware):
    """413 for a body over MAX_REQUEST_BODY_BYTES: at once from a declared Content-Length,
    before anything is read, and from the bytes received for a chunked body.

    nginx has its own limit, but `wapang serve` also runs without it, and a client that
    declares 100 MB and sends 72 bytes must not hold a worker until the request times out.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit: int = scope["app"].state.settings.MAX_REQUEST_BODY_BYTES
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await error_response(PayloadTooLarge, headers={"Connection": "close"})(
                scope, receive, send
            )
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise HTTPException(status_code=413)  # rendered as ERR_413 (errors.py)
            return message

        await self.app(scope, limited_receive, send)


class RequestDeadline(HttpMiddleware):
    """Answers a JSON 503 when a request is still waiting after REQUEST_TIMEOUT seconds.

    A database that accepts connections but never answers would otherwise hang every request.
    A write's deadline ends when its commit starts (db/sessions.py): once the commit may have
    happened, the answer is the write's own.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        seconds = scope["app"].state.settings.REQUEST_TIMEOUT
        response_started = False

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            async with asyncio.timeout(seconds) as deadline:
                request_deadline.set(deadline)  # lifted by the write session's commit
                await self.app(scope, receive, tracking_send)
        except TimeoutError:
            if response_started:
                raise
            logger.warning(
                "request timed out after %ss: %s %s", seconds, scope["method"], scope["path"]
            )
            response = error_response(ServiceUnavailable, headers={"Retry-After": "5"})
            await response(scope, receive, send)


class ResponseHeaders(HttpMiddleware):
    """Contract 14.7: every response carries `X-Request-ID` (the edge's id when it is well
    formed, a fresh one otherwise) and `nosniff`; answers to authenticated requests are
    `Cache-Control: no-store`, so no shared cache keeps a user's data."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        incoming = headers.get("x-request-id", "")
        this_request = incoming if _EDGE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        request_id.set(this_request)
        authenticated = "authorization" in headers
        documentation = scope["path"].startswith(_DOCUMENTATION)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                response_headers["X-Request-ID"] = this_request
                response_headers.update(_SECURITY_HEADERS)
                if not documentation:
                    response_headers["Content-Security-Policy"] = _API_CSP
                if authenticated:
                    response_headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RequestTelemetry(HttpMiddleware):
    """One log line and the request metrics per request, after the answer (api/telemetry.py
    writes them, a batch at a time): method, route template (never the raw path: one series
    per route), status, duration, the signed-in user when known and the client's address as
    the edge saw it (uvicorn's proxy headers)."""

    def __init__(
        self, app: ASGIApp, buffer: RequestTelemetryBuffer, templates: Mapping[int, str]
    ) -> None:
        super().__init__(app)
        self.buffer = buffer
        self.templates = templates  # each API route's full path template, by the route's id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception that escapes is answered 500 by Starlette, outside

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            self.record(scope, status, time.perf_counter() - started)

    def record(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route")
        template = self.templates.get(id(route)) or str(getattr(route, "path", UNMATCHED_ROUTE))
        method: str = scope["method"]
        client = scope.get("client")
        self.buffer.record(
            RequestLine(
                time.time(),
                request_id.get(),
                method,
                template,
                scope["path"],
                status,
                seconds,
                scope.get("state", {}).get("user_id"),
                client[0] if client else None,
            )
        )
