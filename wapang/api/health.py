from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from wapang.api.errors import ServiceUnavailable
from wapang.db.sessions import Database

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive and serving; says nothing about the database."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> dict[str, str]:
    """Ready when the database answers; a JSON 503 otherwise, never a hang."""
    database: Database = request.app.state.database
    timeout = request.app.state.settings.DB_CONNECT_TIMEOUT
    try:
        await asyncio.wait_for(database.ping(), timeout=timeout)
    except Exception:
        raise ServiceUnavailable() from None
    return {"status": "ready", "database": "ok"}
