"""Prebuilt statements at the driver inside a write session (`RetryingSession.run`, the
statements of placing an order): they are part of the session's transaction, their errors are
SQLAlchemy's with the values hidden, a server that closed every pooled connection costs no
error, and a statement cancelled halfway never hands its connection to the next session."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest
from sqlalchemy import bindparam, func, insert, select, text
from sqlalchemy.exc import IntegrityError

from tests.databases import CONNECTION_ID, SLEEP, kill_connection
from wapang.api.users.models import User
from wapang.config import Settings
from wapang.db.base import table_of, utc_now
from wapang.db.engine import build_engine
from wapang.db.sessions import Database, RetryingSession
from wapang.db.statements import Statement

_users = table_of(User)
_NEW_USER = Statement(
    insert(_users).values(
        {
            name: bindparam(name)
            for name in ("id", "email", "hashed_password", "created_at", "token_version")
        }
    )
)
_SECRET_HASH = "$argon2id$v=19$secret-hash-never-in-an-error"


def _user(email: str) -> dict[str, object]:
    return {
        "id": str(uuid.uuid4()),
        "email": email,
        "hashed_password": _SECRET_HASH,
        "created_at": utc_now(),
        "token_version": 0,
    }


async def test_a_statement_at_the_driver_is_part_of_the_sessions_transaction(
    database: Database,
) -> None:
    rolled_back, committed = (f"{uuid.uuid4().hex}@example.com" for _ in range(2))
    async with database.session() as session:
        inserted = await session.run(_NEW_USER, _user(rolled_back))
        seen = await session.scalar(select(func.count()).where(_users.c.email == rolled_back))
        # closed without a commit: rolled back
    async with database.session() as session:
        await session.run(_NEW_USER, _user(committed))
        await session.commit()

    assert (inserted.rowcount, seen) == (1, 1), "the session's own statements see it"
    async with database.session() as session:
        emails = (await session.scalars(select(_users.c.email))).all()
    assert committed in emails
    assert rolled_back not in emails


async def test_a_write_error_is_sqlalchemys_without_the_values(database: Database) -> None:
    email = f"{uuid.uuid4().hex}@example.com"
    async with database.session() as session:
        await session.run(_NEW_USER, _user(email))
        with pytest.raises(IntegrityError) as raised:
            await session.run(_NEW_USER, _user(email))

    # MySQL's own message names the duplicate key's value; the values sent are not added.
    assert _SECRET_HASH not in str(raised.value)
    assert "[parameters:" not in str(raised.value)


@pytest.mark.mariadb
async def test_a_server_that_closed_every_pooled_connection_costs_no_error(
    server_database: Database,
) -> None:
    async def connection_id() -> int:
        async with server_database.session() as session:
            [(number,)] = (await session.run(CONNECTION_ID, {})).rows
            await session.commit()
            return int(number)

    async def held_together() -> list[int]:
        """Two sessions at once: two connections end up in the pool."""
        pooled = await asyncio.gather(_held(server_database), _held(server_database))
        return sorted(pooled)

    pooled = await held_together()
    assert len(set(pooled)) == 2
    for number in pooled:
        kill_connection(number)

    # The first statement meets a dead connection; it runs again on a fresh one, not on the
    # other dead one: the pool was invalidated with it.
    after = [await connection_id(), await connection_id()]

    assert not set(after) & set(pooled)


async def _held(database: Database) -> int:
    async with database.session() as session:
        [(number,)] = (await session.run(CONNECTION_ID, {})).rows
        await asyncio.sleep(0.05)
        await session.commit()
        return int(number)


@pytest.mark.mariadb
async def test_a_statement_cancelled_halfway_never_hands_its_connection_on(
    server_database: Database,
) -> None:
    async with server_database.session() as session:
        [(before,)] = (await session.run(CONNECTION_ID, {})).rows
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(session.run(SLEEP, {"seconds": 1}), timeout=0.2)

    async with server_database.session() as session:
        [(after,)] = (await session.run(CONNECTION_ID, {})).rows
        [(slept,)] = (await session.run(SLEEP, {"seconds": 0})).rows

    assert after != before, "the cancelled statement's connection was discarded, not pooled"
    assert slept == 0, "the next session reads its own answer, not the cancelled one's"


def test_a_statement_that_leaves_a_python_default_to_sqlalchemy_is_refused(
    settings: Settings,
) -> None:
    """At the driver nothing would compute `token_version`'s default: NULL would be written."""
    without_default = Statement(
        insert(_users).values({name: bindparam(name) for name in ("id", "email")})
    )

    with pytest.raises(TypeError, match="token_version"):
        without_default.compiled(build_engine(settings).dialect)


@pytest.mark.mariadb
async def test_a_committed_connection_returns_to_the_pool_without_a_rollback(
    server_database: Database,
) -> None:
    """One round trip less per write; a transaction left open is still rolled back."""
    rollbacks = text("SHOW SESSION STATUS LIKE 'Com_rollback'")

    async def session_rollbacks(session: RetryingSession) -> tuple[int, int]:
        [(_, count)] = (await session.execute(rollbacks)).all()
        [(connection,)] = (await session.run(CONNECTION_ID, {})).rows
        return int(count), int(connection)

    async with server_database.session() as session:
        before, connection = await session_rollbacks(session)
        await session.commit()
    async with server_database.session() as session:
        after_commit = await session_rollbacks(session)
        # closed without a commit: left open, so rolled back
    async with server_database.session() as session:
        after_close = await session_rollbacks(session)

    assert after_commit == (before, connection), "the same connection, and no ROLLBACK"
    assert after_close == (before + 1, connection)
