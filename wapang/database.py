"""The database: one engine and session factory per process, built at start-up from Settings."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy import DateTime, MetaData, String, Table, event, text
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import URL, Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from wapang.config import Dialect as DbDialect
from wapang.config import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def table_of(model: type[Base]) -> Table:
    """A model's table, for the Core statements of hot paths (no ORM objects to build)."""
    return Base.metadata.tables[model.__tablename__]


def new_id() -> str:
    """A fresh UUID4 for each row: passed as a callable default, never evaluated once."""
    return str(uuid.uuid4())


def utc_now() -> datetime:
    return datetime.now(UTC)


EndpointT = TypeVar("EndpointT", bound=Callable[..., Any])

IdColumn = String(36)
INT32_MAX = 2**31 - 1


def case_insensitive_text(length: int) -> String:
    """Unique text compared without case on both backends (MySQL's collation already is)."""
    return String(length).with_variant(String(length, collation="NOCASE"), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC with microseconds; always read back timezone-aware."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


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


def build_engine(settings: Settings, *, reads_only: bool = False) -> AsyncEngine:
    """The engine of the writing sessions, or (`reads_only`, MySQL) the one of read requests.

    Read requests run in autocommit: under READ COMMITTED every statement already sees its own
    snapshot, so this changes no answer, and it saves the BEGIN/ROLLBACK round trips. Neither
    engine pre-pings (a round trip per request): a connection that died with the server fails
    one request with a 503 before it changed anything, and invalidates the pool, so the next
    request reconnects (see tests/api/test_outage.py).
    """
    url = database_url(settings)
    if settings.DB_DIALECT is DbDialect.SQLITE:
        return _sqlite_engine(url, settings)
    isolation: dict[str, Any] = (
        {"isolation_level": "AUTOCOMMIT", "skip_autocommit_rollback": True}
        if reads_only
        else {"isolation_level": "READ COMMITTED"}
    )
    return create_async_engine(
        url,
        pool_size=settings.DB_POOL_SIZE,
        max_overflow=settings.DB_POOL_SIZE,
        pool_timeout=settings.DB_CONNECT_TIMEOUT,
        pool_recycle=1800,
        connect_args={"connect_timeout": settings.DB_CONNECT_TIMEOUT},
        **isolation,
    )


def _sqlite_engine(url: URL, settings: Settings) -> AsyncEngine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, pool_size=settings.DB_POOL_SIZE, connect_args={"timeout": 30})

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: Any, _: Any) -> None:
        # Let SQLAlchemy own transactions, so every one can start as BEGIN IMMEDIATE below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        # SQLite cannot upgrade a read transaction to a write one under concurrency without
        # failing; taking the write lock up front serialises writers instead.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@dataclass(frozen=True)
class _SessionPool:
    """Sessions of one engine, handed out in arrival order.

    SQLAlchemy's own queue is not fair under load (a woken waiter can lose the connection to a
    newcomer and wait again, up to a 503), and past pool_size it opens and closes overflow
    connections on every request: a FIFO semaphore of pool_size in front of it avoids both.
    """

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    turns: asyncio.Semaphore

    @classmethod
    def of(cls, engine: AsyncEngine, size: int) -> _SessionPool:
        return cls(
            engine, async_sessionmaker(engine, expire_on_commit=False), asyncio.Semaphore(size)
        )


class Database:
    """The engine and session factory of one process, created once in the app's lifespan."""

    def __init__(self, settings: Settings) -> None:
        self._writes = _SessionPool.of(build_engine(settings), settings.DB_POOL_SIZE)
        self.engine = self._writes.engine
        self.sessions = self._writes.sessions
        # SQLite has one writer at a time and no round trips to save: one pool does both.
        self._reads = (
            self._writes
            if settings.DB_DIALECT is DbDialect.SQLITE
            else _SessionPool.of(build_engine(settings, reads_only=True), settings.DB_POOL_SIZE)
        )
        self._turn_timeout = settings.DB_CONNECT_TIMEOUT

    @asynccontextmanager
    async def request_session(self, reads_only: bool) -> AsyncIterator[AsyncSession]:
        """A request's session: autocommit reads or a transaction; TimeoutError (a 503) when
        no connection frees up in DB_CONNECT_TIMEOUT seconds."""
        pool = self._reads if reads_only else self._writes
        if pool.turns.locked():  # only a wait needs a deadline: timers cost on every request
            async with asyncio.timeout(self._turn_timeout):
                await pool.turns.acquire()
        else:
            await pool.turns.acquire()
        try:
            async with pool.sessions() as session:
                yield session
        finally:
            pool.turns.release()

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self._writes.engine.dispose()
        if self._reads is not self._writes:
            await self._reads.engine.dispose()


READ_METHODS = frozenset({"GET", "HEAD"})
_WRITING_READS: set[Callable[..., Any]] = set()


def writes(endpoint: EndpointT) -> EndpointT:
    """Marks a GET endpoint that writes (token rotation): it gets a transactional session."""
    _WRITING_READS.add(endpoint)
    return endpoint


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    database: Database = request.app.state.database
    reads_only = (
        request.method in READ_METHODS and request.scope.get("endpoint") not in _WRITING_READS
    )
    async with database.request_session(reads_only) as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(_session)]
