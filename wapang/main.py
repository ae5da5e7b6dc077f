"""The ASGI application: `uvicorn wapang.main:app` serves the API under /api."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wapang import health
from wapang.auth.tokens import TokenService
from wapang.carts.router import router as carts_router
from wapang.config import ConfigError, Settings
from wapang.database import Database
from wapang.errors import (
    PayloadTooLarge,
    ServiceUnavailable,
    error_response,
    register_error_handlers,
)
from wapang.items.router import router as items_router
from wapang.orders.router import router as orders_router
from wapang.reviews.router import router as reviews_router
from wapang.sessions.router import router as sessions_router
from wapang.stores.router import router as stores_router
from wapang.users.router import router as users_router

logger = logging.getLogger("wapang")

API_ROUTERS = (
    sessions_router,
    users_router,
    stores_router,
    items_router,
    reviews_router,
    orders_router,
    carts_router,
)


class HttpMiddleware:
    """Plain ASGI middleware for HTTP requests (no per-request objects, unlike BaseHTTPMiddleware);
    lifespan and other scopes pass straight through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.handle(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class StripTrailingSlash(HttpMiddleware):
    """Answers `/api/users/` as `/api/users` directly: a redirect behind a TLS proxy would
    send clients to plain http."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if len(path) > 1 and path.endswith("/"):
            scope = dict(scope, path=path.rstrip("/") or "/")
            scope["raw_path"] = scope["path"].encode()
        await self.app(scope, receive, send)


class BodySizeLimit(HttpMiddleware):
    """413 for a body over MAX_REQUEST_BODY_BYTES: at once from a declared Content-Length,
    before anything is read, and from the bytes received for a chunked body.

    nginx has its own limit, but `wapang serve` also runs without it, and a client that
    declares 100 MB and sends 72 bytes must not hold a worker until the request times out.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
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
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        seconds = scope["app"].state.settings.REQUEST_TIMEOUT
        response_started = False

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            async with asyncio.timeout(seconds):
                await self.app(scope, receive, tracking_send)
        except TimeoutError:
            if response_started:
                raise
            logger.warning(
                "request timed out after %ss: %s %s", seconds, scope["method"], scope["path"]
            )
            response = error_response(ServiceUnavailable, headers={"Retry-After": "5"})
            await response(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. Without `settings`, they are loaded and validated when it starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        active = settings or _load_settings()
        app.state.settings = active
        app.state.database = Database(active)
        app.state.tokens = TokenService(active)
        _announce(active)
        try:
            yield
        finally:
            await app.state.database.dispose()

    app = FastAPI(
        title="wapang",
        summary="A small online shop: users, stores, items, reviews, carts and orders.",
        version="0.1.0",
        lifespan=lifespan,
        redirect_slashes=False,
    )
    register_error_handlers(app)
    app.include_router(health.router)
    for router in API_ROUTERS:
        app.include_router(router, prefix="/api")
    app.add_middleware(RequestDeadline)
    app.add_middleware(BodySizeLimit)
    app.add_middleware(StripTrailingSlash)
    return app


def _load_settings() -> Settings:
    try:
        settings = Settings.load()
        settings.require_secrets()
    except ConfigError as error:
        logger.error("%s", error.render())
        raise
    return settings


def _announce(settings: Settings) -> None:
    summary = ", ".join(f"{name}: {value}" for name, value in settings.summary().items())
    logger.info("wapang starting (%s)", summary)
    if settings.uses_generated_secrets:
        logger.warning(
            "running with generated development secrets (kept in .wapang/); "
            "set ACCESS_TOKEN_SECRET and REFRESH_TOKEN_SECRET for anything but local use"
        )


app = create_app()
