"""Loading one row by id: 404 for an id that names nothing, 403 for someone else's row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.interfaces import ORMOption

from wapang.db.base import Base, is_canonical_id

ModelT = TypeVar("ModelT", bound=Base)


async def get_or_raise(
    session: AsyncSession,
    model: type[ModelT],
    row_id: str,
    missing: type[Exception],
    options: Sequence[ORMOption] = (),
) -> ModelT:
    """The row with this id, or `missing` raised; an id that is not canonical names nothing."""
    row = await session.get(model, row_id, options=options) if is_canonical_id(row_id) else None
    if row is None:
        raise missing()
    return row


async def get_owned(
    session: AsyncSession,
    model: type[ModelT],
    row_id: str,
    owner_id: str,
    *,
    missing: type[Exception],
    foreign: type[Exception],
    options: Sequence[ORMOption] = (),
) -> ModelT:
    """Someone else's record in the contract's order: `missing` (404) when it does not exist,
    then `foreign` (403) when its `model.OWNER` column names another user."""
    row = await get_or_raise(session, model, row_id, missing, options)
    if getattr(row, model.OWNER) != owner_id:
        raise foreign()
    return row
