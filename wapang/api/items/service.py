"""Item writes (a write session, the response model returned). Reads are items/queries.py."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from wapang.api.items.errors import ItemNotFound, NotYourItem
from wapang.api.items.models import Item
from wapang.api.items.schemas import ItemCreate, ItemOut, ItemUpdate
from wapang.api.stores.service import require_own_store, store_of
from wapang.api.users.queries import Caller
from wapang.db.base import is_canonical_id, utc_now


async def get_live_item(session: AsyncSession, item_id: str) -> Item:
    """The live item, for a write of this domain or another's (reviews)."""
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


async def add_item(session: AsyncSession, owner: Caller, data: ItemCreate) -> ItemOut:
    store = await require_own_store(session, owner)
    item = Item(store_id=store.id, **data.model_dump())
    session.add(item)
    await session.flush()
    return ItemOut.model_validate(item)


async def edit_item(
    session: AsyncSession, owner: Caller, item_id: str, data: ItemUpdate
) -> ItemOut:
    store = await require_own_store(session, owner)
    item = await get_live_item(session, item_id)
    if item.store_id != store.id:
        raise NotYourItem()
    for field, value in data.changes().items():
        setattr(item, field, value)
    await session.flush()
    return ItemOut.model_validate(item)


async def remove_item(session: AsyncSession, owner: Caller, item_id: str) -> None:
    item = await get_live_item(session, item_id)
    store = await store_of(session, owner)
    if store is None or item.store_id != store.id:
        raise NotYourItem()
    item.deleted_at = utc_now()  # carts, listings and lookups leave deleted items out
    await session.flush()


_LIVE_ITEM = select(Item.id).where(Item.id == bindparam("item_id"), Item.deleted_at.is_(None))
