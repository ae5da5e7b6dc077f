"""The API served as users run it: `wapang serve --workers 2` over real HTTP, on SQLite and on
MariaDB, each on a fresh migrated database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.databases import (
    MARIADB_PASSWORD,
    MARIADB_USER,
    mariadb_available,
    mariadb_database,
    mariadb_settings,
)
from tests.examples import TEST_SECRETS
from tests.requirements import require_available
from tests.servers import Server, wapang_server
from wapang.config import Settings
from wapang.db.engine import build_engine
from wapang.db.migrate import upgrade
from wapang.db.sessions import Database

SERVED_BACKENDS = ["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)]


def server_env(backend: str, directory: Path, database: str, **overrides: Any) -> dict[str, Any]:
    env: dict[str, Any] = {"ENV": "test", **TEST_SECRETS}
    if backend == "sqlite":
        env |= {"DB_DIALECT": "sqlite", "DB_DATABASE": str(directory / "served.db")}
    else:
        env |= {
            "DB_DIALECT": "mysql",
            "DB_HOST": "127.0.0.1",
            "DB_PORT": 3306,
            "DB_USER": MARIADB_USER,
            "DB_PASSWORD": MARIADB_PASSWORD,
            "DB_DATABASE": database,
        }
    return env | overrides


@contextmanager
def serving(backend: str, directory: Path, *args: str, **overrides: Any) -> Iterator[Server]:
    """`wapang serve --workers 2 [args]` on a fresh database of the backend, stopped by PID."""
    if backend == "sqlite":
        env = server_env(backend, directory, "", **overrides)
        with wapang_server(directory, "--workers", "2", *args, **env) as running:
            running.database = Settings.load(env_file=None, **env)
            yield running
        return
    require_available(mariadb_available(), "MariaDB on 127.0.0.1:3306")
    with mariadb_database() as name:
        upgrade(mariadb_settings(name))
        env = server_env(backend, directory, name, **overrides)
        with wapang_server(directory, "--workers", "2", *args, **env) as running:
            running.database = mariadb_settings(name)
            yield running


@asynccontextmanager
async def database_of(server: Server) -> AsyncIterator[AsyncSession]:
    """A session on the served database, committed at the end: rows behind the API's back."""
    assert server.database is not None, "served by `serving`"
    engine = build_engine(server.database)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            yield session
            await session.commit()
    finally:
        await engine.dispose()


@pytest.fixture(scope="module", params=SERVED_BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    backend: str = request.param
    with serving(backend, tmp_path_factory.mktemp(f"served-{backend}")) as running:
        yield running


# A served test's log file and its size when the test began (the `http` fixture).
_SERVED_LOG = pytest.StashKey[tuple[Path, int]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A served test that fails shows what its server logged while it ran: an unexpected 503
    or 500 is explained there (the driver's reason, the traceback), and the log file goes with
    the test's temporary directory."""
    report: pytest.TestReport = yield
    served: tuple[Path, int] | None = item.stash.get(_SERVED_LOG, None)
    if report.failed and served is not None:
        log, start = served
        with log.open("rb") as lines:
            lines.seek(start)
            logged = lines.read().decode(errors="replace").splitlines()
        report.sections.append(("server log during the test", "\n".join(logged[-200:])))
    return report


@pytest.fixture
async def http(server: Server, request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the served API over HTTP."""
    log = server.service.log
    request.node.stash[_SERVED_LOG] = (log, log.stat().st_size)
    # Enough connections that every concurrent request of a test is in flight at once.
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30, limits=limits) as client:
        yield client


@asynccontextmanager
async def opened_database(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    """The process's database handles (write sessions, read pool) on the backend's database."""
    async with opened_database(settings) as opened:
        yield opened


@pytest.fixture
async def server_database() -> AsyncIterator[Database]:
    """The same on a fresh MariaDB database: a server that closes connections and sleeps
    (SQLite has none)."""
    require_available(mariadb_available(), "MariaDB on 127.0.0.1:3306")
    with mariadb_database() as name:
        async with opened_database(mariadb_settings(name)) as opened:
            yield opened
