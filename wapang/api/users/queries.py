"""The users domain's reads (api/reads.py): the signed-in caller, loaded by every authenticated
request, and `GET /users/me`, which is that same row."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import bindparam, select

from wapang.api.reads import Query
from wapang.api.users.models import User
from wapang.api.users.schemas import UserOut
from wapang.db.base import is_canonical_id, table_of
from wapang.db.reader import ReadPool


class Caller(NamedTuple):
    """The signed-in user as the services of every domain receive it: the row, read once per
    request from the read pool, with what authentication and the writes need of it."""

    id: str
    email: str
    nickname: str | None
    address: str | None
    phone_number: str | None
    hashed_password: str
    token_version: int


_users = table_of(User).c
# `UserOut`'s fields first (the answer of /users/me), then what authentication checks.
CALLER = Query(
    select(*(getattr(_users, name) for name in Caller._fields)).where(
        _users.id == bindparam("user_id")
    ),
    UserOut,
)


async def caller(reads: ReadPool, user_id: str) -> Caller | None:
    if not is_canonical_id(user_id):
        return None
    rows = await CALLER.rows(reads, {"user_id": user_id})
    return Caller._make(rows[0]) if rows else None


def profile(user: Caller) -> bytes:
    """`GET /users/me`: the caller's row, already loaded by authentication."""
    return CALLER.encode_one(user)
