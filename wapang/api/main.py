"""The composition root: `uvicorn wapang.api.main:app` serves the API under /api."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute

from wapang.api import health
from wapang.api.auth import passwords
from wapang.api.auth.tokens import TokenService
from wapang.api.carts.router import router as carts_router
from wapang.api.errors import register_error_handlers
from wapang.api.items.router import router as items_router
from wapang.api.middleware import (
    BodySizeLimit,
    RequestDeadline,
    RequestTelemetry,
    ResponseHeaders,
    StripTrailingSlash,
)
from wapang.api.orders.router import router as orders_router
from wapang.api.reviews.router import router as reviews_router
from wapang.api.signin.router import router as signin_router
from wapang.api.signin.throttle import SignInBackoff
from wapang.api.stores.router import router as stores_router
from wapang.api.telemetry import RequestTelemetryBuffer
from wapang.api.users.router import router as users_router
from wapang.config import ConfigError, Settings
from wapang.db.sessions import Database
from wapang.metrics import worker_exited

logger = logging.getLogger("wapang")

API_PREFIX = "/api"
# In the order of the traffic they serve: FastAPI matches a request against the included
# routers one by one, at about 10 µs of CPU each (bench/README.md, "Orders at the driver").
API_ROUTERS = (
    items_router,
    users_router,
    reviews_router,
    orders_router,
    carts_router,
    stores_router,
    signin_router,
)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. Without `settings`, they are loaded and validated when it starts."""
    telemetry = RequestTelemetryBuffer()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        active = settings or _load_settings()
        app.state.settings = active
        app.state.database = Database(active)
        telemetry.start(active.log_format)
        app.state.tokens = TokenService(active)
        if not active.serves_documentation:
            _remove_documentation(app)
        app.state.sign_in_backoff = SignInBackoff.of(active)
        passwords.bound_hashing(active.REQUEST_TIMEOUT)
        await passwords.warm_up()
        _announce(active)
        _freeze_start_up_objects()
        try:
            yield
        finally:
            await app.state.database.dispose()
            telemetry.flush()
            worker_exited(os.getpid())

    app = FastAPI(
        title="wapang",
        summary="A small online shop: users, stores, items, reviews, carts and orders.",
        version="0.1.0",
        lifespan=lifespan,
        redirect_slashes=False,
    )
    register_error_handlers(app)
    for router in API_ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(health.router)  # probes, every few seconds
    app.add_middleware(RequestDeadline)
    app.add_middleware(BodySizeLimit)
    app.add_middleware(StripTrailingSlash)
    # Inside ResponseHeaders: the request id is set.
    app.add_middleware(RequestTelemetry, buffer=telemetry, templates=_route_templates())
    app.add_middleware(ResponseHeaders)
    return app


def _freeze_start_up_objects() -> None:
    """Moves what the process has built by now (modules, routes, mappers, compiled statements:
    all of it lives as long as the worker) out of the collector's reach, once per process, so a
    full collection under load no longer walks it again and again: bench/README.md, "Request
    logging and metrics" (users/me 0.82 -> 0.70 ms of CPU, p99/p50 4.1 -> 3.0). Garbage is
    collected first, so none of it is kept for good."""
    if gc.get_freeze_count():
        return  # a second app in one process (the tests): the first one's start froze the rest
    gc.collect()
    gc.freeze()


def _remove_documentation(app: FastAPI) -> None:
    """No schema or documentation pages in production unless DOCS_ENABLED (review finding 11):
    the settings are read at start-up, after the routes were made, so the routes go then."""
    documentation = {
        app.openapi_url,
        app.docs_url,
        app.redoc_url,
        app.swagger_ui_oauth2_redirect_url,
    }
    app.router.routes = [
        route for route in app.router.routes if getattr(route, "path", None) not in documentation
    ]


def _route_templates() -> dict[int, str]:
    """Each API route (by id) with its full path template, for the request log and metrics."""
    return {
        id(route): API_PREFIX + route.path
        for router in API_ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
    }


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
