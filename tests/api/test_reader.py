"""The read pool at the driver (db/reader.py), on both backends: values and rows pass through
the column types as SQLAlchemy would pass them, a connection the server closed costs no error
(the statement runs again on a fresh one), and a read cancelled halfway never hands its
connection, with the answer still on its way, to the next read."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, insert, literal, select

from tests.databases import CONNECTION_ID, SLEEP, kill_connection
from wapang.api.users.models import User
from wapang.config import Settings
from wapang.db.base import table_of
from wapang.db.engine import build_engine
from wapang.db.reader import ReadPool
from wapang.db.sessions import Database
from wapang.db.statements import Statement

_SAME = Statement(select((literal(7) == bindparam("number")).label("same")))
_users = table_of(User).c
_CREATED_AT = Statement(
    select(_users.created_at).where(
        _users.id == bindparam("id"), _users.created_at == bindparam("at")
    )
)


@pytest.fixture
def reads(database: Database) -> ReadPool:
    return database.reads


@pytest.fixture
def server_reads(server_database: Database) -> ReadPool:
    """A read pool on MariaDB: a server that closes connections and sleeps (SQLite has none)."""
    return server_database.reads


async def test_values_and_rows_pass_through_the_column_types(
    reads: ReadPool, settings: Settings
) -> None:
    # MySQL answers a comparison as 1 and SQLite keeps a datetime as text: the types make both
    # what the JSON needs (a boolean, an aware time), and bind an aware time as it is stored.
    assert await reads.rows(_SAME, {"number": 7}) == [(True,)]
    assert await reads.rows(_SAME, {"number": 8}) == [(False,)]
    user_id, at = str(uuid.uuid4()), datetime(2026, 12, 6, 5, 30, 1, 250_000, tzinfo=UTC)
    engine = build_engine(settings)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(User).values(
                    id=user_id, email=f"{user_id}@example.com", hashed_password="x", created_at=at
                )
            )
    finally:
        await engine.dispose()

    [(read_back,)] = await reads.rows(_CREATED_AT, {"id": user_id, "at": at})

    assert read_back == at
    assert read_back.tzinfo is UTC


@pytest.mark.mariadb
async def test_a_connection_the_server_closed_costs_no_error(server_reads: ReadPool) -> None:
    reads = server_reads
    [(first,)] = await reads.rows(CONNECTION_ID, {})
    kill_connection(first)

    [(second,)] = await reads.rows(CONNECTION_ID, {})

    assert second != first, "the statement ran again on a fresh connection"
    assert await reads.rows(_SAME, {"number": 7}) == [(True,)]


@pytest.mark.mariadb
async def test_a_read_cancelled_halfway_never_hands_its_connection_on(
    server_reads: ReadPool,
) -> None:
    reads = server_reads
    [(before,)] = await reads.rows(CONNECTION_ID, {})
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(reads.rows(SLEEP, {"seconds": 1}), timeout=0.2)

    [(after,)] = await reads.rows(CONNECTION_ID, {})

    assert after != before, "the cancelled read's connection was closed, not pooled"
    assert await reads.rows(_SAME, {"number": 7}) == [(True,)]
