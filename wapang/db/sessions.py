"""The request's database handles: one pool each for reads (autocommit) and writes (one
transaction), handed out in arrival order. Reads get a plain connection (`ReadConnection`: no
ORM session, no unit of work; api/reads.py runs its prebuilt statements on it), writes an ORM
session whose transaction the dependency owns (`WriteSession`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from wapang.config import Settings
from wapang.db.engine import build_engine

ResultT = TypeVar("ResultT")

# The request's deadline (api/middleware.py), lifted when its commit starts: a write whose
# commit may have happened must be answered with its result, never a 503 that invites a retry.
request_deadline: ContextVar[asyncio.Timeout | None] = ContextVar("request_deadline", default=None)


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
    in_use: Any  # the pool's children of the metrics, resolved once: labels() costs a lock
    waited: Any

    @classmethod
    def of(
        cls, engine: AsyncEngine, size: int, session_class: type[AsyncSession], name: str
    ) -> _SessionPool:
        # Imported here, not at the top: `wapang serve` imports this module before it sets the
        # metrics directory its workers share (wapang/metrics.py).
        from wapang.metrics import db_pool_in_use, db_pool_wait

        sessions = async_sessionmaker(engine, class_=session_class, expire_on_commit=False)
        return cls(
            engine,
            sessions,
            asyncio.Semaphore(size),
            db_pool_in_use.labels(name),
            db_pool_wait.labels(name),
        )


class Database:
    """The engines and session factories of one process, created once in the app's lifespan."""

    def __init__(self, settings: Settings) -> None:
        size = settings.DB_POOL_SIZE
        self._writes = _SessionPool.of(build_engine(settings), size, RetryingSession, "write")
        self._reads = _SessionPool.of(
            build_engine(settings, reads_only=True), size, ReadOnlySession, "read"
        )
        self.engine = self._writes.engine
        self.sessions = self._writes.sessions
        self._turn_timeout = settings.DB_CONNECT_TIMEOUT

    @asynccontextmanager
    async def request_session(self, reads_only: bool) -> AsyncIterator[AsyncSession]:
        """A request's session: autocommit reads or a transaction; TimeoutError (a 503) when
        no connection frees up in DB_CONNECT_TIMEOUT seconds."""
        pool = self._reads if reads_only else self._writes
        async with self._turn(pool), pool.sessions() as session:
            yield session

    @asynccontextmanager
    async def read_connection(self) -> AsyncIterator[AsyncConnection]:
        """A plain autocommit connection of the read pool, in turn like the sessions: every
        statement on it sees what was committed before it ran, and nothing else."""
        async with self._turn(self._reads), self._reads.engine.connect() as connection:
            yield connection

    @asynccontextmanager
    async def _turn(self, pool: _SessionPool) -> AsyncIterator[None]:
        if pool.turns.locked():  # only a wait needs a deadline: timers cost on every request
            waiting_since = time.perf_counter()
            async with asyncio.timeout(self._turn_timeout):
                await pool.turns.acquire()
            pool.waited.observe(time.perf_counter() - waiting_since)
        else:
            await pool.turns.acquire()
            pool.waited.observe(0)
        pool.in_use.inc()
        try:
            yield
        finally:
            pool.in_use.dec()
            pool.turns.release()

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self._writes.engine.dispose()
        await self._reads.engine.dispose()


# A route declares what it does with the database by what it asks for: a read connection, or
# a write session. Both are function-scoped: the write transaction commits after the endpoint
# returned and before the response is sent, so a client never sees a success that was not
# committed, and a failed commit (a unique key lost in a race) is answered with its contract
# error.
async def _read_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    database: Database = request.app.state.database
    async with database.read_connection() as connection:
        yield connection


async def _write_session(
    request: Request,
    _reads_first: Annotated[AsyncConnection, Depends(_read_connection, scope="function")],
) -> AsyncIterator[AsyncSession]:
    # Depending on the read connection makes every request take it (authentication reads
    # through it) before its write connection, in one order: no request can hold a write
    # connection while it waits for a read one, so the pools cannot deadlock.
    database: Database = request.app.state.database
    async with database.request_session(reads_only=False) as session:
        yield session
        _lift_deadline()
        await session.commit()


def _lift_deadline() -> None:
    deadline = request_deadline.get()
    if deadline is None or deadline.expired():
        return  # already expired: the cancellation arrives at the commit, which then never runs
    deadline.reschedule(None)


ReadConnection = Annotated[AsyncConnection, Depends(_read_connection, scope="function")]
WriteSession = Annotated[AsyncSession, Depends(_write_session, scope="function")]
