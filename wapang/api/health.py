from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response

from wapang.api.errors import ServiceUnavailable
from wapang.db.sessions import Database
from wapang.metrics import exposition, ready

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive and serving; says nothing about the database."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> dict[str, str]:
    """Ready when the database answers; a JSON 503 otherwise, never a hang."""
    if not await _database_answers(request):
        raise ServiceUnavailable()
    return {"status": "ready", "database": "ok"}


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus text of every worker, for the scraper on the private network; the public edge
    answers 404 for this path. Each scrape also records readiness (one `SELECT 1`)."""
    ready.set(1 if await _database_answers(request) else 0)
    body, content_type = exposition()
    return Response(body, media_type=content_type)


async def _database_answers(request: Request) -> bool:
    database: Database = request.app.state.database
    timeout = request.app.state.settings.DB_CONNECT_TIMEOUT
    try:
        await asyncio.wait_for(database.ping(), timeout=timeout)
    except Exception:
        return False
    return True
