from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from wapang.api.stores.errors import (
    NoStoreOwned,
    NotYourStore,
    StoreAlreadyExists,
    StoreInfoConflict,
    StoreNotFound,
)
from wapang.api.stores.models import Store
from wapang.api.stores.schemas import StoreCreate, StoreOut, StoreUpdate
from wapang.api.users.queries import Caller
from wapang.db.base import name_key
from wapang.db.lookups import get_or_raise

UNIQUE_FIELDS = ("store_name", "email", "phone_number")
KEYED_FIELDS = ("store_name", "email")


async def store_of(session: AsyncSession, owner: Caller) -> Store | None:
    return await session.scalar(select(Store).where(Store.owner_id == owner.id))


async def require_own_store(session: AsyncSession, owner: Caller) -> Store:
    """The caller's store, for another domain's write (items): a row, in the write session."""
    store = await store_of(session, owner)
    if store is None:
        raise NoStoreOwned()
    return store


async def open_store(session: AsyncSession, owner: Caller, data: StoreCreate) -> StoreOut:
    values = data.model_dump()
    # One statement sees one snapshot: a store the owner opened concurrently is ERR_008 even
    # when it also clashes by name (ERR_009), as the contract orders them.
    clashing_owners = select(Store.owner_id).where(
        or_(Store.owner_id == owner.id, *_same_data(values))
    )
    owners = set((await session.scalars(clashing_owners)).all())
    if owner.id in owners:
        raise StoreAlreadyExists()
    if owners:
        raise StoreInfoConflict()
    store = Store(owner_id=owner.id, **values)
    session.add(store)
    await session.flush()  # a race lost on a unique key is answered by its error (errors.py)
    return StoreOut.model_validate(store)


async def edit_store(
    session: AsyncSession, owner: Caller, store_id: str, data: StoreUpdate
) -> StoreOut:
    store = await get_or_raise(session, Store, store_id, StoreNotFound)
    if store.owner_id != owner.id:
        raise NoStoreOwned() if await store_of(session, owner) is None else NotYourStore()
    changes = data.changes()
    await _reject_conflicts(session, changes, except_store=store.id)
    for field, value in changes.items():
        setattr(store, field, value)
    await session.flush()
    return StoreOut.model_validate(store)


async def _reject_conflicts(
    session: AsyncSession, values: dict[str, Any], except_store: str | None = None
) -> None:
    conditions = _same_data(values)
    if not conditions:
        return
    query = select(Store.id).where(or_(*conditions))
    if except_store is not None:
        query = query.where(Store.id != except_store)
    if await session.scalar(query.limit(1)) is not None:
        raise StoreInfoConflict()


def _same_data(values: dict[str, Any]) -> list[ColumnElement[bool]]:
    return [_same(name, values[name]) for name in UNIQUE_FIELDS if name in values]


def _same(field: str, value: str) -> ColumnElement[bool]:
    if field in KEYED_FIELDS:  # compared by its key, as its unique key does
        key: ColumnElement[bool] = getattr(Store, f"{field}_key") == name_key(value)
        return key
    same: ColumnElement[bool] = getattr(Store, field) == value
    return same
