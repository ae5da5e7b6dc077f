"""Smaller findings of the security review, each on both backends (MariaDB: the real server):
a committed write is never answered 503 by the request deadline (finding 2), no SQL parameter
in an error's text (finding 9), the duplicate-key name read from the end of MySQL's message
(finding 14)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import bindparam, event, insert, literal_column, or_, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from tests.api.shop import PASSWORD
from wapang.api.main import create_app
from wapang.api.stores.models import Store
from wapang.api.users.models import User
from wapang.config import Settings
from wapang.db.base import table_of
from wapang.db.constraints import violated_constraint
from wapang.db.engine import build_engine
from wapang.db.sessions import Database
from wapang.db.statements import Statement

DEADLINE = 0.3


@pytest.fixture
async def slow_committing_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a short REQUEST_TIMEOUT whose commits start only after it has passed."""
    app = create_app(settings.model_copy(update={"REQUEST_TIMEOUT": DEADLINE}))
    async with app.router.lifespan_context(app):

        def slow_commit(_: Any) -> None:
            time.sleep(DEADLINE * 2)  # blocks the loop: the deadline fires at the commit's await

        engine = app.state.database.engine.sync_engine
        event.listen(engine, "commit", slow_commit)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://wapang.test") as http:
            yield http


async def test_a_write_whose_commit_started_is_never_answered_503(
    slow_committing_client: httpx.AsyncClient,
) -> None:
    email = f"late-{uuid.uuid4().hex[:8]}@example.com"

    created = await slow_committing_client.post(
        "/api/users", json={"email": email, "password": PASSWORD}
    )

    assert created.status_code == 201, created.text
    signed_in = await slow_committing_client.post(
        "/api/auth/tokens", json={"email": email, "password": PASSWORD}
    )
    assert signed_in.status_code == 200


_SECRET_EMAIL = "leak@example.com"
_SECRET_HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"


def _assert_no_parameter(error: DBAPIError) -> None:
    logged = str(error)
    assert _SECRET_EMAIL not in logged
    assert _SECRET_HASH not in logged
    assert "parameters hidden" in logged


async def test_a_write_session_error_carries_no_parameter(settings: Settings) -> None:
    engine = build_engine(settings)
    try:
        async with engine.connect() as connection:
            with pytest.raises(DBAPIError) as raised:
                await connection.execute(
                    text("SELECT no_such_column FROM users WHERE email = :email OR x = :hash"),
                    {"email": _SECRET_EMAIL, "hash": _SECRET_HASH},
                )
    finally:
        await engine.dispose()
    _assert_no_parameter(raised.value)


async def test_a_read_error_carries_no_parameter(database: Database) -> None:
    """The read path runs at the driver (db/reader.py): its errors are SQLAlchemy's, with the
    values hidden as the engine hides them (sign-in and every lookup bind e-mails and ids)."""
    users = table_of(User).c
    statement = Statement(
        select(literal_column("no_such_column")).where(
            or_(users.email == bindparam("email"), users.hashed_password == bindparam("hash"))
        )
    )

    with pytest.raises(DBAPIError) as raised:
        await database.reads.rows(statement, {"email": _SECRET_EMAIL, "hash": _SECRET_HASH})

    _assert_no_parameter(raised.value)


async def test_a_duplicate_value_that_reads_like_a_key_is_mapped_by_the_real_key(
    settings: Settings,
) -> None:
    """MySQL writes the value first: `Duplicate entry 'a' for key 'PRIMARY'' for key 'uq_…'`."""
    engine = build_engine(settings)
    name = "a' for key 'PRIMARY"
    owners = [str(uuid.uuid4()) for _ in range(2)]
    try:
        async with engine.begin() as connection:
            for owner in owners:
                await connection.execute(
                    insert(User).values(id=owner, email=f"{owner}@example.com", hashed_password="x")
                )
            values: dict[str, Any] = {
                "owner_id": owners[0],
                "store_name": name,
                "address": "서울",
                "email": f"{owners[0]}@example.com",
                "phone_number": "010-9999-9997",
                "delivery_fee": 0,
            }
            await connection.execute(insert(Store).values(id=str(uuid.uuid4()), **values))
            with pytest.raises(IntegrityError) as raised:
                await connection.execute(
                    insert(Store).values(
                        id=str(uuid.uuid4()),
                        **{
                            **values,
                            "owner_id": owners[1],
                            "email": "other@example.com",
                            "phone_number": "010-9999-9998",
                        },
                    )
                )
            await connection.rollback()
    finally:
        await engine.dispose()
    assert violated_constraint(raised.value) == "uq_stores_store_name"
