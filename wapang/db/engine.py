"""Engines from Settings: MySQL with its pool and isolation, SQLite with WAL and BEGIN IMMEDIATE."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import PoolResetState

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
    engine = create_async_engine(
        url,
        pool_size=settings.DB_POOL_SIZE,
        max_overflow=settings.DB_POOL_SIZE,
        pool_timeout=settings.DB_CONNECT_TIMEOUT,
        pool_recycle=POOL_RECYCLE_SECONDS,
        pool_reset_on_return=None,  # _roll_back_on_return below decides
        connect_args=driver_connect_arguments(settings),
        hide_parameters=True,  # a logged error never carries an e-mail, a hash or a token id
        isolation_level="READ COMMITTED",
    )
    _roll_back_on_return(engine)
    return engine


_MAY_BE_IN_TRANSACTION = "wapang_may_be_in_transaction"


def _roll_back_on_return(engine: AsyncEngine) -> None:
    """A connection returned to the pool is rolled back unless its last transaction ended in
    a commit or rollback that succeeded.

    SQLAlchemy's own reset rolls back every connection a session returns (the session ends its
    transaction, then the pool resets the connection): one more round trip on every write, for
    a transaction the server has already closed. A rollback on return is still needed when
    anything may have been left open, so the connection remembers (in its pool record's
    `info`) whether it is: open from its transaction's begin, closed by a commit or rollback,
    open again after any error — one in the commit itself included.
    """
    sync_engine = engine.sync_engine

    def mark(connection: Connection, may_be_in_transaction: bool) -> None:
        if not connection.invalidated:  # an invalidated one is discarded, never reused
            connection.info[_MAY_BE_IN_TRANSACTION] = may_be_in_transaction

    def may_be_in_transaction(connection: Connection) -> None:
        mark(connection, True)

    def ended(connection: Connection) -> None:
        mark(connection, False)

    def failed(context: ExceptionContext) -> None:
        if context.connection is not None:
            may_be_in_transaction(context.connection)

    def reset(dbapi_connection: Any, record: Any, state: PoolResetState) -> None:
        if state.terminate_only or not state.asyncio_safe:
            return  # discarded, not reused
        if state.transaction_was_reset or not record.info.get(_MAY_BE_IN_TRANSACTION, True):
            return
        dbapi_connection.rollback()
        record.info[_MAY_BE_IN_TRANSACTION] = False

    event.listen(sync_engine, "begin", may_be_in_transaction)
    # Both before they run: an error sets the mark back.
    event.listen(sync_engine, "commit", ended)
    event.listen(sync_engine, "rollback", ended)
    event.listen(sync_engine, "handle_error", failed)
    event.listen(sync_engine, "reset", reset)


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
