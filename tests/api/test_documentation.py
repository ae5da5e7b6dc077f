"""Review finding 11: the schema and documentation pages are not public in production unless
DOCS_ENABLED says so; elsewhere they stay (schemathesis reads /openapi.json)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.databases import sqlite_settings
from wapang.api.main import create_app
from wapang.config import Environment
from wapang.db.migrate import upgrade

DOCUMENTATION = ["/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect"]


@pytest.mark.parametrize(
    ("environment", "enabled", "served"),
    [
        (Environment.PROD, False, False),
        (Environment.PROD, True, True),
        (Environment.TEST, False, True),
        (Environment.LOCAL, False, True),
    ],
)
async def test_documentation_is_served_only_where_it_should_be(
    tmp_path: Path, environment: Environment, enabled: bool, served: bool
) -> None:
    settings = sqlite_settings(tmp_path)
    await asyncio.to_thread(upgrade, settings)
    app = create_app(settings.model_copy(update={"ENV": environment, "DOCS_ENABLED": enabled}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://wapang.test") as http:
            for path in DOCUMENTATION:
                response = await http.get(path)
                if served:
                    assert response.status_code == 200, path
                else:
                    assert response.status_code == 404, path
                    assert response.json()["error_code"] == "ERR_404"
            assert (await http.get("/api/items")).status_code == 200
