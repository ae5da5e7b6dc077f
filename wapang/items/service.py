from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Row, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from wapang.carts.models import CartLine
from wapang.database import utc_now
from wapang.items.errors import ItemNotFound, NotYourItem
from wapang.items.models import Item
from wapang.items.schemas import ItemCreate, ItemUpdate
from wapang.stores.models import Store
from wapang.stores.service import get_store, require_own_store, store_of
from wapang.users.models import User


@dataclass(frozen=True)
class ItemFilter:
    store_id: str | None = None
    min_price: int | None = None
    max_price: int | None = None
    in_stock: bool = False


async def get_live_item(session: AsyncSession, item_id: str) -> Item:
    item = await session.get(Item, item_id)
    if item is None or item.deleted_at is not None:
        raise ItemNotFound()
    return item


async def add_item(session: AsyncSession, owner: User, data: ItemCreate) -> Item:
    store = await require_own_store(session, owner)
    item = Item(store_id=store.id, **data.model_dump())
    session.add(item)
    await session.commit()
    return item


async def edit_item(session: AsyncSession, owner: User, item_id: str, data: ItemUpdate) -> Item:
    store = await require_own_store(session, owner)
    item = await get_live_item(session, item_id)
    if item.store_id != store.id:
        raise NotYourItem()
    for field, value in data.changes().items():
        setattr(item, field, value)
    await session.commit()
    return item


async def remove_item(session: AsyncSession, owner: User, item_id: str) -> None:
    item = await get_live_item(session, item_id)
    store = await store_of(session, owner)
    if store is None or item.store_id != store.id:
        raise NotYourItem()
    item.deleted_at = utc_now()
    await session.execute(delete(CartLine).where(CartLine.item_id == item.id))
    await session.commit()


async def items_of_store(session: AsyncSession, store_id: str) -> Sequence[Item]:
    await get_store(session, store_id)
    query = (
        select(Item)
        .where(Item.store_id == store_id, Item.deleted_at.is_(None))
        .order_by(Item.created_at, Item.id)
    )
    return (await session.scalars(query)).all()


async def search_items(session: AsyncSession, where: ItemFilter) -> Sequence[Row[Item, str]]:
    if where.store_id is not None:
        await get_store(session, where.store_id)
    query = (
        select(Item, Store.store_name)
        .join(Store, Store.id == Item.store_id)
        .where(Item.deleted_at.is_(None))
        .order_by(Item.created_at, Item.id)
    )
    if where.store_id is not None:
        query = query.where(Item.store_id == where.store_id)
    if where.min_price is not None:
        query = query.where(Item.price >= where.min_price)
    if where.max_price is not None:
        query = query.where(Item.price <= where.max_price)
    if where.in_stock:
        query = query.where(Item.stock > 0)
    return (await session.execute(query)).all()
