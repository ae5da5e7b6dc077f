"""The request's database handles, each pool's turns handed out in arrival order (db/turns.py):
reads get the read pool (`Reads`: driver connections in autocommit, one per statement, no ORM
session or unit of work; api/reads.py runs its prebuilt statements on it, db/reader.py), writes
an ORM session whose transaction the dependency owns (`WriteSession`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from wapang.config import Settings
from wapang.db.engine import build_engine
from wapang.db.reader import ReadPool
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

    async def _retrying(self, run: Callable[[], Awaitable[ResultT]]) -> ResultT:
        safe = not self.in_transaction()
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
    async def session(self) -> AsyncIterator[AsyncSession]:
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


async def _write_session(request: Request) -> AsyncIterator[AsyncSession]:
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
WriteSession = Annotated[AsyncSession, Depends(_write_session, scope="function")]
