"""The carts domain's read (api/reads.py): the caller's cart, priced live from its lines."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from wapang.api.carts.models import CartLine
from wapang.api.carts.schemas import CartOut
from wapang.api.items.models import Item
from wapang.api.orders.pricing import PricedLine, price_lines
from wapang.api.reads import Shape
from wapang.api.stores.models import Store
from wapang.api.users.queries import Caller
from wapang.db.base import table_of
from wapang.db.reader import ReadPool
from wapang.db.statements import Statement

_LINES, _ITEMS, _STORES = table_of(CartLine), table_of(Item), table_of(Store)
_lines, _items, _stores = _LINES.c, _ITEMS.c, _STORES.c
# The live items of the cart, in the order they were added.
_CART = (
    select(
        _items.id.label("item_id"),
        _items.item_name,
        _items.price,
        _lines.quantity,
        _stores.id.label("store_id"),
        _stores.store_name,
        _stores.delivery_fee,
    )
    .join_from(_LINES, _ITEMS, _items.id == _lines.item_id)
    .join(_STORES, _stores.id == _items.store_id)
    .where(_lines.user_id == bindparam("user_id"), _items.deleted_at.is_(None))
    .order_by(_lines.position)
)
_CART_READ = Statement(_CART)
CART = Shape(CartOut)


async def priced_cart(session: AsyncSession, owner: Caller) -> CartOut:
    """The cart in the write session, for the answer of a change to it (which must show that
    change)."""
    return _priced(await session.execute(_CART, {"user_id": owner.id}))


async def cart(reads: ReadPool, owner: Caller) -> bytes:
    """`GET /carts`: the cart as it is, from the read pool."""
    rows = await reads.rows(_CART_READ, {"user_id": owner.id})
    return CART.encode(_priced(_CART_READ.named(row) for row in rows))


def _priced(rows: Iterable[Any]) -> CartOut:
    return CartOut.model_validate(dict(price_lines(PricedLine.of(row) for row in rows)))
