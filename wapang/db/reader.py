"""Reads at the driver: the read path's statements (api/reads.py) run on the driver's own
connections, with no SQLAlchemy engine, pool or `Connection` between them and the database.

Why: on asyncmy, checking a pooled SQLAlchemy connection out and back in cost about 100 µs of
CPU, and a statement run through it about 120 µs more than on the driver's cursor — together
as much as everything else a `GET /users/me` does (bench/README.md, "Reads at the driver").

What SQLAlchemy gives the read path stays:
- statements are SQLAlchemy Core, compiled by the engine's dialect once (db/statements.py
  `Statement`); values are bound and rows read back through the column types' own processors
  (UtcDateTime's aware datetimes, SQLite's datetimes stored as text, MySQL's booleans stored as
  integers);
- the driver is connected with the arguments the dialect derives from the URL, plus the
  engine's own (db/engine.py `driver_connect_arguments`);
- a driver error becomes SQLAlchemy's exception (`DBAPIError.instance`), so api/errors.py maps
  it as before, and the dialect tells a connection that died with the server (`is_disconnect`):
  the pool drops it with every idle one, and the statement runs again, once, on a fresh one
  (every read is autocommit: nothing of it can be lost or done twice).
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from wapang.config import Settings
from wapang.db.engine import POOL_RECYCLE_SECONDS, driver_connect_arguments, sqlite_pragmas
from wapang.db.statements import Row, Statement, driver_error, run_on
from wapang.db.turns import Turns


class _Driver:
    """The driver's calls the pool makes: PyMySQL's API (asyncmy, aiomysql) or aiosqlite's."""

    def __init__(self, engine: AsyncEngine, connect_arguments: dict[str, Any]) -> None:
        dialect = engine.dialect
        self.module = importlib.import_module(dialect.driver)
        arguments, keywords = dialect.create_connect_args(engine.url)
        self.arguments = list(arguments)
        self.keywords = {**keywords, **connect_arguments}
        self.sqlite = dialect.name == "sqlite"
        self._closing: set[asyncio.Task[None]] = set()

    async def connect(self) -> Any:
        if self.sqlite:
            connection = await self.module.connect(
                *self.arguments, **self.keywords, isolation_level=None
            )
            for pragma in sqlite_pragmas():
                await connection.execute(pragma)
            return connection
        return await self.module.connect(*self.arguments, **self.keywords, autocommit=True)

    def close(self, connection: Any) -> None:
        """At once, without a round trip: the connection may be dead, or busy with a statement
        that was cancelled halfway (its answer would reach the next request)."""
        if not self.sqlite:
            connection.close()
            return
        closing = asyncio.get_running_loop().create_task(connection.close())
        self._closing.add(closing)  # the loop keeps only a weak reference to a task
        closing.add_done_callback(self._closing.discard)


@dataclass
class _Pooled:
    connection: Any
    born: float


class ReadPool:
    """Driver connections for reads, in autocommit, taken in turn (`Turns`) and each held for
    one statement only: a request never holds a read connection while it waits for another one
    or for a write one, so the pools cannot deadlock, and every statement sees what was
    committed before it ran."""

    @classmethod
    def of(cls, settings: Settings, engine: AsyncEngine) -> ReadPool:
        """The read pool beside `engine` (whose dialect compiles its statements): as many
        connections as the write pool, with the same wait before a 503."""
        turns = Turns(settings.DB_POOL_SIZE, settings.DB_CONNECT_TIMEOUT, "read")
        return cls(engine, driver_connect_arguments(settings), turns)

    def __init__(
        self, engine: AsyncEngine, connect_arguments: dict[str, Any], turns: Turns
    ) -> None:
        self._engine = engine
        self._turns = turns
        self._driver = _Driver(engine, connect_arguments)
        self._dialect = engine.dialect
        self._idle: deque[_Pooled] = deque()
        self._dialect_ready = False

    async def rows(self, statement: Statement, values: Mapping[str, Any]) -> Sequence[Row]:
        """The statement's rows for these values, as its column types read them."""
        if not self._dialect_ready:
            await self._learn_server()
        compiled = statement.compiled(self._dialect)
        parameters = compiled.parameters(values)
        async with self._turns:
            fetched = await self._fetch(compiled.sql, parameters)
        return compiled.rows(fetched)

    async def _learn_server(self) -> None:
        """The dialect learns the server (version, MariaDB or not) on its engine's first
        connection; statements are compiled for what it learnt."""
        async with self._engine.connect():
            self._dialect_ready = True

    async def _fetch(self, sql: str, parameters: tuple[Any, ...]) -> Sequence[Row]:
        try:
            return await self._fetch_once(sql, parameters)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            return await self._fetch_once(sql, parameters)

    async def _fetch_once(self, sql: str, parameters: tuple[Any, ...]) -> Sequence[Row]:
        pooled = await self._checkout()
        try:
            fetched = (await run_on(pooled.connection, self._driver.sqlite, sql, parameters)).rows
        except BaseException as error:
            self._driver.close(pooled.connection)
            translated = self._translated(error, sql, parameters)
            if translated is error:
                raise
            raise translated from error
        self._idle.append(pooled)
        return fetched

    async def _checkout(self) -> _Pooled:
        while self._idle:
            pooled = self._idle.popleft()
            if time.monotonic() - pooled.born < POOL_RECYCLE_SECONDS:
                return pooled
            self._driver.close(pooled.connection)
        try:
            connection = await self._driver.connect()
        except self._dialect.loaded_dbapi.Error as error:
            raise self._translated(error, None, ()) from error
        return _Pooled(connection, time.monotonic())

    def _translated(self, error: BaseException, sql: str | None, parameters: Any) -> BaseException:
        """A driver error as SQLAlchemy's (anything else as it is); a lost connection takes
        every idle one with it: the server they were opened to is gone."""
        translated = driver_error(self._dialect, error, sql, parameters)
        if isinstance(translated, DBAPIError) and translated.connection_invalidated:
            self.close_idle()
        return translated

    def close_idle(self) -> None:
        while self._idle:
            self._driver.close(self._idle.popleft().connection)
