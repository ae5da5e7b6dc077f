"""Writes applied once (contract 14.4): `Idempotency-Key` on the two ways to place an order.

The key's row is inserted in the request's own transaction (the WriteSession), before the
order, and its status and body are written into it before the commit: the answer is stored
exactly when the order is, and an order that fails leaves no key behind (a retry is then
processed again, which is safe: nothing had changed). A concurrent request with the same key
waits on the key's unique index only as long as the first transaction runs (milliseconds),
then loses on it (`RequestInProgress`, mapped by the key's name); on SQLite writers are
serialised, so it finds the stored answer instead. Expired keys of the user are purged by the
same transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated

from fastapi import Header, Response
from pydantic import BaseModel
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from wapang.api.orders.errors import IdempotencyKeyReused, RequestInProgress
from wapang.api.orders.models import IdempotentRequest
from wapang.db.base import table_of, utc_now

KEY_LIFETIME = timedelta(hours=24)
REPLAYED_HEADER = "Idempotent-Replayed"

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=255, pattern=r"^[\x20-\x7e]+$"),
]

_KEYS = table_of(IdempotentRequest)
_keys = _KEYS.c


def fingerprint(route: str, request: BaseModel) -> str:
    """What makes two requests "the same": the route and the body as validated (so key order,
    spacing and unknown keys do not count)."""
    return hashlib.sha256(f"{route}\n{request.model_dump_json()}".encode()).hexdigest()


async def respond_once(
    session: AsyncSession,
    user_id: str,
    key: str | None,
    request: tuple[str, BaseModel],
    produce: Callable[[], Awaitable[BaseModel]],
    status_code: int,
) -> Response:
    """The stored answer to an earlier request with this key, or `produce`'s answer, stored.
    `request` is the route and the body, which make two requests the same (`fingerprint`)."""
    if key is not None:
        stored = await _claim(session, user_id, key, fingerprint(*request))
        if stored is not None:
            return stored
    # Rendered here, as the response model would be, so the stored bytes are the very bytes sent.
    body = (await produce()).model_dump_json().encode()
    if key is not None:
        await session.execute(
            update(_KEYS)
            .where(_keys.user_id == user_id, _keys.key == key)
            .values(status_code=status_code, body=body)
        )
    return Response(body, status_code=status_code, media_type="application/json")


async def _claim(
    session: AsyncSession, user_id: str, key: str, request_fingerprint: str
) -> Response | None:
    now = utc_now()
    await session.execute(delete(_KEYS).where(_keys.user_id == user_id, _keys.expires_at <= now))
    found = (
        await session.execute(
            select(_keys.fingerprint, _keys.status_code, _keys.body).where(
                _keys.user_id == user_id, _keys.key == key
            )
        )
    ).first()
    if found is None:
        await session.execute(
            insert(_KEYS).values(
                user_id=user_id,
                key=key,
                fingerprint=request_fingerprint,
                expires_at=now + KEY_LIFETIME,
            )
        )
        return None
    if found.fingerprint != request_fingerprint:
        raise IdempotencyKeyReused()
    if found.status_code is None or found.body is None:
        raise RequestInProgress()
    return Response(
        found.body,
        status_code=found.status_code,
        media_type="application/json",
        headers={REPLAYED_HEADER: "true"},
    )
