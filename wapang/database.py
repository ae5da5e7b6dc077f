"""The database: one engine and session factory per process, built at start-up from Settings."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar

from fastapi import Depends, Request
from sqlalchemy import DateTime, MetaData, String, Table, event, text
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import URL, Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm.interfaces import ORMOption
from sqlalchemy.sql.schema import ColumnCollectionConstraint
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
    # The column naming the user a row belongs to, for `get_owned`.
    OWNER: ClassVar[str] = ""


def table_of(model: type[Base]) -> Table:
    """A model's table, for the Core statements of hot paths (no ORM objects to build)."""
    return Base.metadata.tables[model.__tablename__]


def new_id() -> str:
    """A fresh UUID4 for each row: passed as a callable default, never evaluated once."""
    return str(uuid.uuid4())


def utc_now() -> datetime:
    return datetime.now(UTC)


ResultT = TypeVar("ResultT")

IdColumn = String(36)
_CANONICAL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_canonical_id(value: str) -> bool:
    """Ids are lowercase hyphenated UUIDs (contract §1.2): anything else matches no row, so a
    lookup can answer its 404 without asking the database."""
    return _CANONICAL_ID.fullmatch(value) is not None


ModelT = TypeVar("ModelT", bound=Base)


async def get_or_raise(
    session: AsyncSession,
    model: type[ModelT],
    row_id: str,
    missing: type[Exception],
    options: Sequence[ORMOption] = (),
) -> ModelT:
    """The row with this id, or `missing` raised; an id that is not canonical names nothing."""
    row = await session.get(model, row_id, options=options) if is_canonical_id(row_id) else None
    if row is None:
        raise missing()
    return row


async def get_owned(
    session: AsyncSession,
    model: type[ModelT],
    row_id: str,
    owner_id: str,
    *,
    missing: type[Exception],
    foreign: type[Exception],
    options: Sequence[ORMOption] = (),
) -> ModelT:
    """Someone else's record in the contract's order: `missing` (404) when it does not exist,
    then `foreign` (403) when its `model.OWNER` column names another user."""
    row = await get_or_raise(session, model, row_id, missing, options)
    if getattr(row, model.OWNER) != owner_id:
        raise foreign()
    return row


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
    """The engine of the writing sessions, or (`reads_only`) the one of read requests.

    Read requests run in autocommit: under READ COMMITTED (and SQLite's WAL) every statement
    already sees its own snapshot, so this changes no answer, and it saves the BEGIN/ROLLBACK
    round trips. Neither engine pre-pings (a round trip per request): a statement that meets a
    connection that died with the server invalidates the pool and is retried once on a fresh
    connection when that is safe (`RetryingSession`).
    """
    url = database_url(settings)
    if settings.DB_DIALECT is DbDialect.SQLITE:
        return _sqlite_engine(url, settings, reads_only)
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


def _sqlite_engine(url: URL, settings: Settings, reads_only: bool) -> AsyncEngine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        url,
        pool_size=settings.DB_POOL_SIZE,
        connect_args={"timeout": 30},
        **({"isolation_level": "AUTOCOMMIT"} if reads_only else {}),
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: Any, _: Any) -> None:
        # Let SQLAlchemy own transactions, so every one can start as BEGIN IMMEDIATE below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    if not reads_only:

        @event.listens_for(engine.sync_engine, "begin")
        def _begin_immediate(connection: Any) -> None:
            # SQLite cannot upgrade a read transaction to a write one under concurrency without
            # failing; taking the write lock up front serialises writers instead.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class RetryingSession(AsyncSession):
    """A session whose statements survive one dead pooled connection.

    After a database outage the pool still holds connections to the old server process. The
    first statement on one fails with a disconnect, which makes SQLAlchemy invalidate the whole
    pool; the statement is then run again, once, on a fresh connection — but only while no
    transaction was under way (every statement of an autocommit read session; the first one of
    a write transaction), so nothing already done can be lost or done twice.
    """

    autocommit = False

    async def _retrying(self, run: Callable[[], Awaitable[ResultT]]) -> ResultT:
        safe = self.autocommit or not self.in_transaction()
        try:
            return await run()
        except DBAPIError as error:
            if not (safe and error.connection_invalidated):
                raise
            await self.rollback()
            return await run()

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        return await self._retrying(lambda: super(RetryingSession, self).execute(*args, **kwargs))

    async def scalar(self, *args: Any, **kwargs: Any) -> Any:
        return await self._retrying(lambda: super(RetryingSession, self).scalar(*args, **kwargs))

    async def scalars(self, *args: Any, **kwargs: Any) -> Any:
        return await self._retrying(lambda: super(RetryingSession, self).scalars(*args, **kwargs))

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        return await self._retrying(lambda: super(RetryingSession, self).get(*args, **kwargs))


class ReadOnlySession(RetryingSession):
    autocommit = True


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
    def of(cls, engine: AsyncEngine, size: int, session_class: type[AsyncSession]) -> _SessionPool:
        sessions = async_sessionmaker(engine, class_=session_class, expire_on_commit=False)
        return cls(engine, sessions, asyncio.Semaphore(size))


class Database:
    """The engines and session factories of one process, created once in the app's lifespan."""

    def __init__(self, settings: Settings) -> None:
        size = settings.DB_POOL_SIZE
        self._writes = _SessionPool.of(build_engine(settings), size, RetryingSession)
        self._reads = _SessionPool.of(
            build_engine(settings, reads_only=True), size, ReadOnlySession
        )
        self.engine = self._writes.engine
        self.sessions = self._writes.sessions
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
        await self._reads.engine.dispose()


# A route declares what it does with the database by the session it asks for. Both are
# function-scoped: the write transaction commits after the endpoint returned and before the
# response is sent, so a client never sees a success that was not committed, and a failed
# commit (a unique key lost in a race) is answered with its contract error.
async def _read_session(request: Request) -> AsyncIterator[AsyncSession]:
    database: Database = request.app.state.database
    async with database.request_session(reads_only=True) as session:
        yield session


async def _write_session(
    request: Request,
    _reads_first: Annotated[AsyncSession, Depends(_read_session, scope="function")],
) -> AsyncIterator[AsyncSession]:
    # Depending on the read session makes every request take its read connection (which
    # authentication uses) before its write connection, in one order: no request can hold a
    # write connection while it waits for a read one, so the pools cannot deadlock.
    database: Database = request.app.state.database
    async with database.request_session(reads_only=False) as session:
        yield session
        await session.commit()


ReadSession = Annotated[AsyncSession, Depends(_read_session, scope="function")]
WriteSession = Annotated[AsyncSession, Depends(_write_session, scope="function")]


_MYSQL_DUPLICATE_KEY = re.compile(r"for key '(?:[^'.]+\.)?([^']+)'")
_MYSQL_FOREIGN_KEY = re.compile(r"CONSTRAINT `([^`]+)`")
_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (.+)")


def violated_constraint(error: IntegrityError) -> str | None:
    """The name of the constraint a statement broke, on both backends.

    MySQL names the key (`for key 'uq_stores_owner_id'`, or `stores.uq_…` on MySQL 8); SQLite
    names only the columns (`stores.owner_id`), which the schema maps back to the constraint.
    """
    message = str(error.orig)
    for pattern in (_MYSQL_DUPLICATE_KEY, _MYSQL_FOREIGN_KEY):
        if found := pattern.search(message):
            return _named_primary_key(found.group(1), error.statement)
    if found := _SQLITE_UNIQUE.search(message):
        columns = [part.strip() for part in found.group(1).split(",")]
        table = Base.metadata.tables.get(columns[0].split(".")[0])
        names = {column.split(".")[-1] for column in columns}
        for constraint in table.constraints if table is not None else ():
            if (
                isinstance(constraint, ColumnCollectionConstraint)
                and set(constraint.columns.keys()) == names
            ):
                return str(constraint.name)
    return None


_INSERT_INTO = re.compile(r"INSERT INTO `?(\w+)`?", re.IGNORECASE)


def _named_primary_key(key: str, statement: str | None) -> str:
    """MySQL ignores primary key names and reports `PRIMARY`: the inserted table says whose."""
    found = _INSERT_INTO.match(statement or "") if key == "PRIMARY" else None
    table = Base.metadata.tables.get(found.group(1)) if found else None
    return str(table.primary_key.name) if table is not None else key
