"""The orders domain's reads (api/reads.py): an order of the caller's, and their orders."""

from __future__ import annotations

from sqlalchemy import bindparam, select

from wapang.api.orders.errors import NotYourOrder, OrderNotFound
from wapang.api.orders.models import Order, OrderLine
from wapang.api.orders.pricing import PricedLine, price_lines
from wapang.api.orders.schemas import OrderOut, OrderSummaryOut
from wapang.api.paging import Page
from wapang.api.reads import Listing, Shape
from wapang.api.users.queries import Caller
from wapang.db.base import is_canonical_id, table_of
from wapang.db.reader import ReadPool
from wapang.db.statements import Statement

_ORDERS, _LINES = table_of(Order), table_of(OrderLine)
_orders, _lines = _ORDERS.c, _LINES.c

MY_ORDERS = Listing(
    select(_orders.id.label("order_id"), _orders.total_price, _orders.status)
    .where(_orders.buyer_id == bindparam("buyer_id"))
    .order_by(_orders.created_at, _orders.id),
    OrderSummaryOut,
    _orders.created_at,
    _orders.id,
)
# The order and its lines (the snapshot taken when it was placed) in one statement; the lines
# are priced as the write priced them (orders/pricing.py).
_ORDER = Statement(
    select(
        _orders.buyer_id,
        _orders.status,
        *(getattr(_lines, name) for name in PricedLine.names()),
    )
    .join_from(_ORDERS, _LINES, _lines.order_id == _orders.id)
    .where(_orders.id == bindparam("order_id"))
    .order_by(_lines.position)
)
ORDER = Shape(OrderOut)


async def order(reads: ReadPool, buyer: Caller, order_id: str) -> bytes:
    """404 for an order that does not exist, then 403 for someone else's."""
    rows = (
        [_ORDER.named(row) for row in await reads.rows(_ORDER, {"order_id": order_id})]
        if is_canonical_id(order_id)
        else []
    )
    if not rows:
        raise OrderNotFound()
    if rows[0].buyer_id != buyer.id:
        raise NotYourOrder()
    priced = price_lines(PricedLine.of(row) for row in rows)
    return ORDER.encode(OrderOut(order_id=order_id, status=rows[0].status, **dict(priced)))


async def orders_of(reads: ReadPool, buyer: Caller, page: Page) -> tuple[bytes, str | None]:
    return await MY_ORDERS.page(reads, {"buyer_id": buyer.id}, page)
