from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from wapang.database import get_or_raise
from wapang.stores.errors import (
    NoStoreOwned,
    NotYourStore,
    StoreAlreadyExists,
    StoreInfoConflict,
    StoreNotFound,
)
from wapang.stores.models import Store
from wapang.stores.schemas import StoreCreate, StoreUpdate
from wapang.users.models import User

UNIQUE_FIELDS = ("store_name", "email", "phone_number")


async def get_store(session: AsyncSession, store_id: str) -> Store:
    return await get_or_raise(session, Store, store_id, StoreNotFound)


async def store_of(session: AsyncSession, owner: User) -> Store | None:
    return await session.scalar(select(Store).where(Store.owner_id == owner.id))


async def require_own_store(session: AsyncSession, owner: User) -> Store:
    store = await store_of(session, owner)
    if store is None:
        raise NoStoreOwned()
    return store


async def open_store(session: AsyncSession, owner: User, data: StoreCreate) -> Store:
    if await store_of(session, owner) is not None:
        raise StoreAlreadyExists()
    values = data.model_dump()
    await _reject_conflicts(session, values)
    store = Store(owner_id=owner.id, **values)
    session.add(store)
    await session.flush()  # a race lost on a unique key is answered by its error (errors.py)
    return store


async def edit_store(session: AsyncSession, owner: User, store_id: str, data: StoreUpdate) -> Store:
    store = await get_store(session, store_id)
    if store.owner_id != owner.id:
        raise NoStoreOwned() if await store_of(session, owner) is None else NotYourStore()
    changes = data.changes()
    await _reject_conflicts(session, changes, except_store=store.id)
    for field, value in changes.items():
        setattr(store, field, value)
    await session.flush()
    return store


async def _reject_conflicts(
    session: AsyncSession, values: dict[str, Any], except_store: str | None = None
) -> None:
    conditions = [getattr(Store, name) == values[name] for name in UNIQUE_FIELDS if name in values]
    if not conditions:
        return
    query = select(Store.id).where(or_(*conditions))
    if except_store is not None:
        query = query.where(Store.id != except_store)
    if await session.scalar(query.limit(1)) is not None:
        raise StoreInfoConflict()
