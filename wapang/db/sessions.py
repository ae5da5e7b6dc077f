"""The request's database handles, each pool's turns handed out in arrival order (db/turns.py):
reads get the read pool (`Reads`: driver connections in autocommit, one per statement, no ORM
session or unit of work; api/reads.py runs its prebuilt statements on it, db/reader.py), writes
an ORM session whose transaction the dependency owns (`WriteSession`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from sqlalchemy.orm import SessionTransaction

from wapang.config import Settings
from wapang.db.engine import build_engine
from wapang.db.reader import ReadPool
from wapang.db.statements import Compiled, Outcome, Statement, driver_error, run_many_on, run_on
from wapang.db.turns import Turns

ResultT = TypeVar("ResultT")

# The request's deadline (api/middleware.py), lifted when its commit starts: a write whose
# commit may have happened must be answered with its result, never a 503 that invites a retry.
request_deadline: ContextVar[asyncio.Timeout | None] = ContextVar("request_deadline", default=None)


class RetryingSession(AsyncSession):
    """A session whose statements survive one dead pooled connection.

    After a database outage the pool still holds connections to the old server process. The
    first statement on one fails with a disconnect, which makes SQLAlchemy invalidate the whole
    pool; the statement is then run again, once, on a fresh connection — but only while no
    transaction was under way (the first statement of a transaction), so nothing already done
    can be lost or done twice.
    """

    _driver: tuple[SessionTransaction | None, AsyncConnection, Any] | None = None

    async def _retrying(self, run: Callable[[], Awaitable[ResultT]]) -> ResultT:
        safe = not self.in_transaction()
        try:
            return await run()
        except DBAPIError as error:
            if not (safe and error.connection_invalidated):
                raise
            await self.rollback()
            return await run()

    async def run(self, statement: Statement, values: Mapping[str, Any]) -> Outcome:
        """A prebuilt statement (db/statements.py) at the driver, in this session's transaction,
        retried as `execute` is: for the statements of a hot write (placing an order), which
        skip SQLAlchemy's per-statement machinery."""

        async def once(connection: Any, sqlite: bool, compiled: Compiled) -> Outcome:
            outcome = await run_on(connection, sqlite, compiled.sql, compiled.parameters(values))
            return Outcome(compiled.rows(outcome.rows), outcome.rowcount)

        return await self._retrying(lambda: self._at_driver(statement, once))

    async def run_many(self, statement: Statement, rows: Sequence[Mapping[str, Any]]) -> int:
        """`run` once per set of values, in one call to the driver (an INSERT's rows)."""

        async def once(connection: Any, sqlite: bool, compiled: Compiled) -> int:
            parameters = [compiled.parameters(values) for values in rows]
            return await run_many_on(connection, sqlite, compiled.sql, parameters)

        return await self._retrying(lambda: self._at_driver(statement, once))

    async def _at_driver(
        self,
        statement: Statement,
        call: Callable[[Any, bool, Compiled], Awaitable[ResultT]],
    ) -> ResultT:
        connection, driver_connection = await self._driver_connection()
        dialect = connection.dialect
        compiled = statement.compiled(dialect)
        try:
            return await call(driver_connection, dialect.name == "sqlite", compiled)
        except BaseException as error:
            translated = driver_error(dialect, error, compiled.sql, None)
            if isinstance(translated, DBAPIError) and translated.connection_invalidated:
                await self._invalidate_pool(connection)
            elif not isinstance(error, Exception):
                # Cancelled halfway: the answer may still be on its way, so the connection
                # goes, as SQLAlchemy discards one whose statement it saw cancelled.
                await connection.invalidate()
            if translated is error:
                raise
            raise translated from error

    async def _driver_connection(self) -> tuple[AsyncConnection, Any]:
        """The transaction's connection and the driver's connection under it, looked up once
        per transaction (each lookup is a call into SQLAlchemy's greenlet)."""
        transaction = self.sync_session.get_transaction()
        if self._driver is not None and transaction is self._driver[0]:
            return self._driver[1], self._driver[2]
        connection = await self.connection()  # begins the transaction, as `execute` would
        driver_connection = (await connection.get_raw_connection()).driver_connection
        self._driver = (self.sync_session.get_transaction(), connection, driver_connection)
        return connection, driver_connection

    @staticmethod
    async def _invalidate_pool(connection: AsyncConnection) -> None:
        """A lost server takes the pool's other connections with it: SQLAlchemy invalidates
        them when it meets a lost connection itself, so it is shown this one (a probe)."""
        with contextlib.suppress(DBAPIError):
            await connection.exec_driver_sql("SELECT 1")
        if not connection.invalidated:
            await connection.invalidate()

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        return await self._retrying(lambda: super(RetryingSession, self).execute(*args, **kwargs))

    async def scalar(self, *args: Any, **kwargs: Any) -> Any:
        return await self._retrying(lambda: super(RetryingSession, self).scalar(*args, **kwargs))

    async def scalars(self, *args: Any, **kwargs: Any) -> Any:
        return await self._retrying(lambda: super(RetryingSession, self).scalars(*args, **kwargs))

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        return await self._retrying(lambda: super(RetryingSession, self).get(*args, **kwargs))


class Database:
    """The database handles of one process, created once in the app's lifespan: the write
    engine and its sessions, and the read pool (db/reader.py), each taken in turn."""

    def __init__(self, settings: Settings) -> None:
        self.engine = build_engine(settings)
        self.sessions = async_sessionmaker(
            self.engine, class_=RetryingSession, expire_on_commit=False
        )
        self._write_turns = Turns(settings.DB_POOL_SIZE, settings.DB_CONNECT_TIMEOUT, "write")
        self.reads = ReadPool.of(settings, self.engine)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[RetryingSession]:
        """A session of the write pool, in turn; TimeoutError (a 503) when no connection frees
        up in DB_CONNECT_TIMEOUT seconds. Its owner commits: closed, it rolls back."""
        async with self._write_turns, self.sessions() as session:
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        self.reads.close_idle()
        await self.engine.dispose()


# A route declares what it does with the database by what it asks for: the read pool, or a
# write session. The session is function-scoped: its transaction commits after the endpoint
# returned and before the response is sent, so a client never sees a success that was not
# committed, and a failed commit (a unique key lost in a race) is answered with its contract
# error.
async def _read_pool(request: Request) -> ReadPool:  # async: FastAPI runs a plain one in a thread
    database: Database = request.app.state.database
    return database.reads


async def _write_session(request: Request) -> AsyncIterator[RetryingSession]:
    database: Database = request.app.state.database
    async with database.session() as session:
        yield session
        _lift_deadline()
        await session.commit()


def _lift_deadline() -> None:
    deadline = request_deadline.get()
    if deadline is None or deadline.expired():
        return  # already expired: the cancellation arrives at the commit, which then never runs
    deadline.reschedule(None)


Reads = Annotated[ReadPool, Depends(_read_pool)]
WriteSession = Annotated[RetryingSession, Depends(_write_session, scope="function")]
