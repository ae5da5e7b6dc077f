"""Prebuilt statements run at the driver: SQLAlchemy Core, compiled by the dialect once, bound
and read back through the column types' own processors, with no engine, session or `Connection`
between them and the database connection.

The read path runs them on its own pool (db/reader.py); a write runs them inside its session's
transaction (`RetryingSession.run`, db/sessions.py). Why at the driver: on asyncmy a statement
through `AsyncConnection.execute` cost about 190 µs of CPU and about 60 µs on the driver's
cursor; through an ORM session, more (bench/README.md, "Reads at the driver" and "Orders at the
driver").
"""

from __future__ import annotations

import functools
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Delete, Insert, Select, Update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

Row = tuple[Any, ...]
Processor = Callable[[Any], Any]
Core = Select[*tuple[Any, ...]] | Insert | Update | Delete
# Who records the SQL sent (bench/capture.py), as SQLAlchemy's `before_cursor_execute` does
# for the statements it runs itself: called with the SQL and its positional values.
statement_listeners: list[Callable[[str, Sequence[Any]], None]] = []
_REQUIRED = object()  # a bound value the request gives, not a constant of the statement


@dataclass(frozen=True)
class Compiled:
    """A statement as one dialect runs it: its SQL, how its values are bound (by position,
    each through its type's processor) and how its columns are read back."""

    sql: str
    binds: tuple[tuple[str, Any, Processor | None], ...]  # name, constant or _REQUIRED, processor
    processed: tuple[tuple[int, Processor], ...]  # the columns that need a processor

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """The values in the SQL's order, constants included (a KeyError names a value the
        statement needs and was not given)."""
        parameters = []
        for name, constant, process in self.binds:
            value = values[name] if constant is _REQUIRED else values.get(name, constant)
            parameters.append(value if process is None or value is None else process(value))
        return tuple(parameters)

    def rows(self, fetched: Sequence[Row]) -> Sequence[Row]:
        if not self.processed:
            return fetched
        rows = []
        for row in fetched:
            values = list(row)
            for index, process in self.processed:
                values[index] = process(values[index])
            rows.append(tuple(values))
        return rows


class Statement:
    """A Core statement built once at import and compiled once per dialect; its values are
    bind parameters (`bindparam("name")`), given by name when it runs."""

    def __init__(self, statement: Core) -> None:
        self.statement = statement
        self._columns = tuple(statement.selected_columns if isinstance(statement, Select) else ())
        keys = [str(column.key) for column in self._columns]
        self._named: Any = namedtuple("Row", keys, rename=True)  # type: ignore[misc]
        self._compiled: dict[tuple[str, str], Compiled] = {}

    def named(self, row: Row) -> Any:
        """A row whose columns are also attributes, by their keys (for the few reads that
        pick columns by name; listings read rows by position)."""
        return self._named._make(row)

    def compiled(self, dialect: Dialect) -> Compiled:
        key = (dialect.name, dialect.driver)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(dialect)
        return compiled

    def _compile(self, dialect: Dialect) -> Compiled:
        compiled = self.statement.compile(dialect=dialect)
        if not compiled.positional or "POSTCOMPILE" in compiled.string:
            raise TypeError(f"not a statement that binds by position: {self.statement}")
        # SQLAlchemy computes these columns' Python-side defaults (default=, onupdate=) when it
        # runs a statement itself; at the driver nothing would, and NULL would be written.
        defaulted = [*compiled.insert_prefetch, *compiled.update_prefetch]
        if defaulted:
            names = ", ".join(str(column.key) for column in defaulted)
            raise TypeError(f"give the defaulted columns ({names}) as values: {self.statement}")
        binds = tuple(
            (
                name,
                _REQUIRED if bind.required else bind.effective_value,
                bind.type.dialect_impl(dialect).bind_processor(dialect),
            )
            for name in compiled.positiontup or ()
            for bind in (compiled.binds[name],)
        )
        processors = (
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in self._columns
        )
        processed = tuple(
            (index, process) for index, process in enumerate(processors) if process is not None
        )
        return Compiled(compiled.string, binds, processed)


class Statements:
    """A statement whose shape depends on a count (`IN` one value per line of an order), built
    and compiled once per count; the counts last asked for are kept (a client choosing the
    count must not grow the cache without bound)."""

    def __init__(self, build: Callable[[int], Core], kept: int = 32) -> None:
        self.of: Callable[[int], Statement] = functools.lru_cache(maxsize=kept)(
            lambda count: Statement(build(count))
        )


@dataclass(frozen=True)
class Outcome:
    rows: Sequence[Row]
    rowcount: int


async def run_on(connection: Any, sqlite: bool, sql: str, parameters: tuple[Any, ...]) -> Outcome:
    """One statement on a driver connection: PyMySQL's API (asyncmy, aiomysql) or aiosqlite's."""
    for listener in statement_listeners:
        listener(sql, parameters)
    if sqlite:
        async with connection.execute(sql, parameters) as cursor:
            return Outcome(await cursor.fetchall(), cursor.rowcount)
    # Always a tuple, even empty: PyMySQL formats the SQL (`%%` -> `%`) only when given one.
    async with connection.cursor() as cursor:
        await cursor.execute(sql, parameters)
        return Outcome(await cursor.fetchall(), cursor.rowcount)


async def run_many_on(
    connection: Any, sqlite: bool, sql: str, parameters: Sequence[tuple[Any, ...]]
) -> int:
    """One statement for each set of values (an INSERT's rows: one round trip on MySQL, whose
    drivers send them as one multi-row INSERT); the rows changed."""
    for listener in statement_listeners:
        for values in parameters:
            listener(sql, values)
    if sqlite:
        async with connection.executemany(sql, parameters) as cursor:
            return int(cursor.rowcount)
    async with connection.cursor() as cursor:
        await cursor.executemany(sql, parameters)
        return int(cursor.rowcount)


def driver_error(
    dialect: Dialect, error: BaseException, sql: str | None, parameters: Any
) -> BaseException:
    """A driver error as SQLAlchemy's exception, parameters hidden as the engines hide them,
    `connection_invalidated` when the dialect says the connection died with the server;
    anything else as it is."""
    if not isinstance(error, dialect.loaded_dbapi.Error):
        return error
    return DBAPIError.instance(
        sql,
        parameters,
        error,
        dialect.loaded_dbapi.Error,
        hide_parameters=True,
        connection_invalidated=dialect.is_disconnect(error, None, None),
        dialect=dialect,
    )
