"""Engines from Settings: MySQL with its pool and isolation, SQLite with WAL and BEGIN IMMEDIATE."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from wapang.config import Dialect as DbDialect
from wapang.config import Settings

# Connections older than this are replaced, by both pools: a server or proxy between may drop
# connections idle longer than its own timeout (MySQL's wait_timeout, 8 h by default; less on
# some managed services), and an answer then costs a failed statement and a retry.
POOL_RECYCLE_SECONDS = 1800


def database_url(settings: Settings) -> URL:
    if settings.DB_DIALECT is DbDialect.SQLITE:
        return URL.create(f"sqlite+{settings.async_driver}", database=settings.DB_DATABASE)
    return URL.create(
        f"mysql+{settings.async_driver}",
        username=settings.DB_USER,
        password=settings.DB_PASSWORD.get_secret_value() or None,
        host=settings.DB_HOST,
        port=settings.DB_PORT,
        database=settings.DB_DATABASE,
        query={"charset": "utf8mb4"},
    )


def build_engine(settings: Settings) -> AsyncEngine:
    """The engine of the writing sessions (READ COMMITTED; on SQLite, BEGIN IMMEDIATE).

    It does not pre-ping (a round trip per request): a statement that meets a connection that
    died with the server invalidates the pool and is retried once on a fresh connection when
    that is safe (`RetryingSession`). Reads do not use it: they run at the driver (db/reader.py).
    """
    url = database_url(settings)
    if settings.DB_DIALECT is DbDialect.SQLITE:
        return _sqlite_engine(url, settings)
    return create_async_engine(
        url,
        pool_size=settings.DB_POOL_SIZE,
        max_overflow=settings.DB_POOL_SIZE,
        pool_timeout=settings.DB_CONNECT_TIMEOUT,
        pool_recycle=POOL_RECYCLE_SECONDS,
        connect_args=driver_connect_arguments(settings),
        hide_parameters=True,  # a logged error never carries an e-mail, a hash or a token id
        isolation_level="READ COMMITTED",
    )


def driver_connect_arguments(settings: Settings) -> dict[str, Any]:
    """What the driver is connected with beyond what the URL says (engines and db/reader.py)."""
    if settings.DB_DIALECT is DbDialect.SQLITE:
        return {"timeout": 30}
    return {"connect_timeout": settings.DB_CONNECT_TIMEOUT}


def sqlite_pragmas() -> tuple[str, ...]:
    """Every SQLite connection's settings: WAL (readers never block the writer), foreign keys
    enforced, and a wait of 30 s for a lock instead of an error."""
    return ("PRAGMA journal_mode=WAL", "PRAGMA foreign_keys=ON", "PRAGMA busy_timeout=30000")


def _sqlite_engine(url: URL, settings: Settings) -> AsyncEngine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        url,
        pool_size=settings.DB_POOL_SIZE,
        connect_args=driver_connect_arguments(settings),
        hide_parameters=True,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: Any, _: Any) -> None:
        # Let SQLAlchemy own transactions, so every one can start as BEGIN IMMEDIATE below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in sqlite_pragmas():
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        # SQLite cannot upgrade a read transaction to a write one under concurrency without
        # failing; taking the write lock up front serialises writers instead.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
