"""Shared fixtures: the API on SQLite and on MariaDB, each migrated with Alembic."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete

from tests.databases import mariadb_available, mariadb_database, mariadb_settings, sqlite_settings
from tests.requirements import require
from wapang.api.main import create_app
from wapang.api.models import Base
from wapang.config import Settings
from wapang.db.migrate import upgrade

BACKENDS = ["sqlite", "mariadb"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("backend") == "mariadb":
            item.add_marker(pytest.mark.mariadb)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="session")
def settings(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Migrated settings for the backend; the MariaDB database is created and dropped here."""
    if backend == "sqlite":
        migrated = sqlite_settings(tmp_path_factory.mktemp("sqlite"))
        upgrade(migrated)
        yield migrated
        return
    require(mariadb_available(), "MariaDB on 127.0.0.1:3306")
    with mariadb_database() as name:
        migrated = mariadb_settings(name)
        upgrade(migrated)
        yield migrated


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


async def _empty_all_tables(app: FastAPI) -> None:
    async with app.state.database.sessions() as session:
        for table in reversed(Base.metadata.sorted_tables):
            await session.execute(delete(table))
        await session.commit()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the in-process app; every test starts from empty tables."""
    await _empty_all_tables(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://wapang.test") as http:
        yield http
