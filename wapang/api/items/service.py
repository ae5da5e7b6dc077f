from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Result, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from wapang.api.items.errors import ItemNotFound, NotYourItem
from wapang.api.items.models import Item
from wapang.api.items.schemas import ItemCreate, ItemUpdate
from wapang.api.stores.models import Store
from wapang.api.stores.service import require_own_store, require_store, store_of
from wapang.api.users.models import User
from wapang.db.base import is_canonical_id, table_of, utc_now


@dataclass(frozen=True)
class ItemFilter:
    store_id: str | None = None
    min_price: int | None = None
    max_price: int | None = None
    in_stock: bool = False


async def get_live_item(session: AsyncSession, item_id: str) -> Item:
    item = await session.get(Item, item_id) if is_canonical_id(item_id) else None
    if item is None or item.deleted_at is not None:
        raise ItemNotFound()
    return item


async def require_live_item(session: AsyncSession, item_id: str) -> None:
    """`get_live_item` for a caller that needs no Item object: one column, no ORM load."""
    if (
        not is_canonical_id(item_id)
        or await session.scalar(_LIVE_ITEM, {"item_id": item_id}) is None
    ):
        raise ItemNotFound()


async def add_item(session: AsyncSession, owner: User, data: ItemCreate) -> Item:
    store = await require_own_store(session, owner)
    item = Item(store_id=store.id, **data.model_dump())
    session.add(item)
    await session.flush()
    return item


async def edit_item(session: AsyncSession, owner: User, item_id: str, data: ItemUpdate) -> Item:
    store = await require_own_store(session, owner)
    item = await get_live_item(session, item_id)
    if item.store_id != store.id:
        raise NotYourItem()
    for field, value in data.changes().items():
        setattr(item, field, value)
    await session.flush()
    return item


async def remove_item(session: AsyncSession, owner: User, item_id: str) -> None:
    item = await get_live_item(session, item_id)
    store = await store_of(session, owner)
    if store is None or item.store_id != store.id:
        raise NotYourItem()
    item.deleted_at = utc_now()  # carts, listings and lookups leave deleted items out
    await session.flush()


async def items_of_store(session: AsyncSession, store_id: str) -> list[dict[str, Any]]:
    await require_store(session, store_id)
    return _dicts(await session.execute(_STORE_LISTING, {"store_id": store_id}))


async def search_items(session: AsyncSession, where: ItemFilter) -> list[dict[str, Any]]:
    """`ListedItemOut` fields of the live items that match, oldest first."""
    if where.store_id is not None:
        await require_store(session, where.store_id)
    statement = _search_statement(
        where.store_id is not None,
        where.min_price is not None,
        where.max_price is not None,
        where.in_stock,
    )
    values = {
        "store_id": where.store_id,
        "min_price": where.min_price,
        "max_price": where.max_price,
    }
    return _dicts(await session.execute(statement, _present(values)))


# Listings select plain columns (no ORM objects to build and track) with statements built
# once: a request only binds its values.
_ITEMS, _STORES = table_of(Item), table_of(Store)
_items = _ITEMS.c
_LISTED = (_items.id, _items.item_name, _items.price, _items.stock)
_LIVE_ITEM = select(_items.id).where(_items.id == bindparam("item_id"), _items.deleted_at.is_(None))
_STORE_LISTING = (
    select(*_LISTED)
    .where(_items.store_id == bindparam("store_id"), _items.deleted_at.is_(None))
    .order_by(_items.created_at, _items.id)
)


@cache
def _search_statement(
    by_store: bool, min_price: bool, max_price: bool, in_stock: bool
) -> Select[tuple[Any, ...]]:
    stores = _STORES.c
    query = (
        select(*_LISTED, _items.store_id, stores.store_name)
        .join_from(_ITEMS, _STORES, stores.id == _items.store_id)
        .where(_items.deleted_at.is_(None))
        .order_by(_items.created_at, _items.id)
    )
    if by_store:
        query = query.where(_items.store_id == bindparam("store_id"))
    if min_price:
        query = query.where(_items.price >= bindparam("min_price"))
    if max_price:
        query = query.where(_items.price <= bindparam("max_price"))
    if in_stock:
        query = query.where(_items.stock > 0)
    return query


def _dicts(rows: Result[Any]) -> list[dict[str, Any]]:
    names = tuple(rows.keys())
    return [dict(zip(names, row, strict=True)) for row in rows]


def _present(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}
