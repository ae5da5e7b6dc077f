"""The items domain's reads (api/reads.py): the items search, a store's items, and whether an
item is live (the 404 of its reviews)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from sqlalchemy import bindparam, select

from wapang.api.items.errors import ItemNotFound
from wapang.api.items.models import Item
from wapang.api.items.schemas import ItemOut, ListedItemOut
from wapang.api.paging import Page
from wapang.api.reads import Listing, Lookup
from wapang.api.stores.models import Store
from wapang.api.stores.queries import require_store
from wapang.db.base import is_canonical_id, table_of
from wapang.db.reader import ReadPool


@dataclass(frozen=True)
class ItemFilter:
    store_id: str | None = None
    min_price: int | None = None
    max_price: int | None = None
    in_stock: bool = False


_ITEMS, _STORES = table_of(Item), table_of(Store)
_items, _stores = _ITEMS.c, _STORES.c
_LISTED = (_items.id, _items.item_name, _items.price, _items.stock)
_LIVE = _items.deleted_at.is_(None)

ITEM_IS_LIVE = Lookup(select(_items.id).where(_items.id == bindparam("item_id"), _LIVE))
STORE_ITEMS = Listing(
    select(*_LISTED)
    .where(_items.store_id == bindparam("store_id"), _LIVE)
    .order_by(_items.created_at, _items.id),
    ItemOut,
    _items.created_at,
    _items.id,
)


@cache
def _search(by_store: bool, min_price: bool, max_price: bool, in_stock: bool) -> Listing:
    """One listing per combination of filters, built the first time it is asked for."""
    query = (
        select(*_LISTED, _items.store_id, _stores.store_name)
        .join_from(_ITEMS, _STORES, _stores.id == _items.store_id)
        .where(_LIVE)
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
    return Listing(query, ListedItemOut, _items.created_at, _items.id)


async def search(reads: ReadPool, where: ItemFilter, page: Page) -> tuple[bytes, str | None]:
    """`ListedItemOut` of the live items that match, oldest first."""
    if where.store_id is not None:
        await require_store(reads, where.store_id)
    listing = _search(
        where.store_id is not None,
        where.min_price is not None,
        where.max_price is not None,
        where.in_stock,
    )
    values = {
        name: value
        for name, value in (
            ("store_id", where.store_id),
            ("min_price", where.min_price),
            ("max_price", where.max_price),
        )
        if value is not None
    }
    return await listing.page(reads, values, page)


async def items_of_store(reads: ReadPool, store_id: str, page: Page) -> tuple[bytes, str | None]:
    await require_store(reads, store_id)
    return await STORE_ITEMS.page(reads, {"store_id": store_id}, page)


async def require_live_item(reads: ReadPool, item_id: str) -> None:
    if not is_canonical_id(item_id) or not await ITEM_IS_LIVE.found(reads, {"item_id": item_id}):
        raise ItemNotFound()
