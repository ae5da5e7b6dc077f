"""Placing and changing orders (writes: a write session, the response model returned; reads
are orders/queries.py). Stock moves only inside the order's transaction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import BindParameter, Update, bindparam, case, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from wapang.api.audit import audit
from wapang.api.errors import InvalidFieldFormat
from wapang.api.items.errors import ItemNotFound
from wapang.api.items.models import Item
from wapang.api.orders.errors import (
    EmptyItemList,
    InvalidOrderStatus,
    NotEnoughStock,
    NotYourOrder,
    OrderNotFound,
    PriceChanged,
)
from wapang.api.orders.models import Order, OrderLine, OrderStatus
from wapang.api.orders.pricing import PricedLine, price_lines
from wapang.api.orders.schemas import OrderCreate, OrderOut
from wapang.api.stores.models import Store
from wapang.api.users.queries import Caller
from wapang.db.base import INT32_MAX, new_id, table_of, utc_now
from wapang.db.lookups import get_owned
from wapang.db.sessions import RetryingSession
from wapang.db.statements import Statement, Statements

BIGINT_MAX = 2**63 - 1


def merge_quantities(requested: Iterable[tuple[str, int]]) -> dict[str, int]:
    """One line per item, quantities added, in order of first appearance."""
    merged: dict[str, int] = {}
    for item_id, quantity in requested:
        merged[item_id] = merged.get(item_id, 0) + quantity
    return merged


async def order_items(session: RetryingSession, buyer: Caller, data: OrderCreate) -> OrderOut:
    """`POST /orders`: the lines asked for, at least one."""
    if not data.items:
        raise EmptyItemList()
    lines = ((line.item_id, line.quantity) for line in data.items)
    return await place_order(session, buyer, lines, data.expected_total_price)


async def place_order(
    session: RetryingSession,
    buyer: Caller,
    requested: Iterable[tuple[str, int]],
    expected_total: int | None = None,
) -> OrderOut:
    """All or nothing: every item must exist, then every quantity must be in stock.

    On any error the request's transaction is rolled back (database.py), so nothing changes.
    The happy path costs four statements: the snapshot, two inserts and the stock update. The
    stock update comes last, so an item's row stays locked only from it to the commit: orders
    of one popular item queue on that lock one round trip each, not four. A total other than
    the one the buyer saw (`expected_total`, contract 14.5) stops it before anything changes.
    """
    quantities = merge_quantities(requested)
    lines = await _snapshot(session, quantities)
    if any(quantity > INT32_MAX for quantity in quantities.values()):
        # Merged lines beyond any stock (a stock fits 32 bits): answered before MySQL's INT
        # column refuses the quantity.
        raise NotEnoughStock()
    priced = price_lines(lines)
    if expected_total is not None and priced.total_price != expected_total:
        raise PriceChanged()
    if priced.total_price > BIGINT_MAX:
        await _take_stock_or_raise(session, quantities)  # "not enough stock" outranks it
        raise InvalidFieldFormat()
    order_id, status = new_id(), OrderStatus.ORDERED.value
    await session.run(
        _ORDER,
        {
            "id": order_id,
            "buyer_id": buyer.id,
            "status": status,
            "total_price": priced.total_price,
            "created_at": utc_now(),
        },
    )
    await session.run_many(
        _LINE,
        [
            {"order_id": order_id, "position": position, **vars(line)}
            for position, line in enumerate(lines)
        ],
    )
    await _take_stock_or_raise(session, quantities)
    return OrderOut(order_id=order_id, status=status, **dict(priced))


# The statements of placing an order, run at the driver in the request's transaction
# (db/statements.py): four of them on every order, SQLAlchemy's per-statement machinery cost
# more than everything else the request does (bench/README.md, "Orders at the driver").
_ITEMS, _STORES, _ORDERS, _ORDER_LINES = map(table_of, (Item, Store, Order, OrderLine))


def _ids(count: int) -> list[BindParameter[Any]]:
    return [bindparam(f"item_{index}") for index in range(count)]


def _values(quantities: dict[str, int]) -> dict[str, Any]:
    """The values of `_SNAPSHOT` and `_TAKE_STOCK` for these lines."""
    values: dict[str, Any] = {}
    for index, (item_id, quantity) in enumerate(quantities.items()):
        values[f"item_{index}"], values[f"quantity_{index}"] = item_id, quantity
    return values


_SNAPSHOT = Statements(
    lambda count: (
        select(
            _ITEMS.c.id.label("item_id"),
            _ITEMS.c.item_name,
            _ITEMS.c.price,
            _STORES.c.id.label("store_id"),
            _STORES.c.store_name,
            _STORES.c.delivery_fee,
        )
        .join_from(_ITEMS, _STORES, _STORES.c.id == _ITEMS.c.store_id)
        .where(_ITEMS.c.id.in_(_ids(count)), _ITEMS.c.deleted_at.is_(None))
    )
)
_ORDER = Statement(
    insert(_ORDERS).values(
        {
            name: bindparam(name)
            for name in ("id", "buyer_id", "status", "total_price", "created_at")
        }
    )
)
_LINE = Statement(
    insert(_ORDER_LINES).values(
        {name: bindparam(name) for name in ("order_id", "position", *PricedLine.names())}
    )
)


def _take_stock_of(count: int) -> Update:
    wanted = case(
        {bindparam(f"item_{index}"): bindparam(f"quantity_{index}") for index in range(count)},
        value=_ITEMS.c.id,
    )
    return (
        update(_ITEMS)
        .where(
            _ITEMS.c.id.in_(_ids(count)),
            _ITEMS.c.deleted_at.is_(None),
            _ITEMS.c.stock >= wanted,
        )
        .values(stock=_ITEMS.c.stock - wanted)
    )


_TAKE_STOCK = Statements(_take_stock_of)


async def _require_live_items(session: AsyncSession, item_ids: Iterable[str]) -> None:
    wanted = set(item_ids)
    found = await session.scalars(
        select(Item.id).where(Item.id.in_(wanted), Item.deleted_at.is_(None))
    )
    if set(found.all()) != wanted:
        raise ItemNotFound()


async def _take_stock_or_raise(session: RetryingSession, quantities: dict[str, int]) -> None:
    if not await _take_stock(session, quantities):
        await _require_live_items(session, quantities.keys())  # deleted since the snapshot
        raise NotEnoughStock()


async def _take_stock(session: RetryingSession, quantities: dict[str, int]) -> bool:
    """One conditional decrement of every line, or none (False): the row locks are taken in
    primary-key order, so concurrent orders serialise without deadlocks and stock never goes
    below zero."""
    taken = await session.run(_TAKE_STOCK.of(len(quantities)), _values(quantities))
    return taken.rowcount == len(quantities)


async def _snapshot(session: RetryingSession, quantities: dict[str, int]) -> list[PricedLine]:
    """The ordered live items as they are now (ItemNotFound if one is not). An edit that
    commits between this read and the stock update is not in the snapshot: the order is priced
    as the item was when the order was placed, and a deletion fails the stock update."""
    statement = _SNAPSHOT.of(len(quantities))
    found = await session.run(statement, _values(quantities))
    by_id = {row.item_id: row for row in map(statement.named, found.rows)}
    if len(by_id) != len(quantities):
        raise ItemNotFound()
    return [
        PricedLine.of(by_id[item_id], quantity=quantity) for item_id, quantity in quantities.items()
    ]


def _order_out(order: Order, status: str | None = None) -> OrderOut:
    lines = [PricedLine.of(line) for line in order.lines]
    return OrderOut(order_id=order.id, status=status or order.status, **dict(price_lines(lines)))


async def _own_order(session: AsyncSession, buyer: Caller, order_id: str) -> Order:
    return await get_owned(
        session,
        Order,
        order_id,
        buyer.id,
        missing=OrderNotFound,
        foreign=NotYourOrder,
        options=[selectinload(Order.lines)],
    )


async def change_status(
    session: AsyncSession, buyer: Caller, order_id: str, new_status: OrderStatus
) -> OrderOut:
    order = await _own_order(session, buyer, order_id)
    # Conditional on the current status, so two concurrent cancels restock only once.
    result = await session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == OrderStatus.ORDERED.value)
        .values(status=new_status.value)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidOrderStatus()
    if new_status is OrderStatus.CANCELED:
        await _restock(session, order.lines)
    audit("order.status_changed", buyer.id, order_id=order.id, status=new_status.value)
    return _order_out(order, status=new_status.value)


async def _restock(session: AsyncSession, lines: Iterable[OrderLine]) -> None:
    for line in sorted(lines, key=lambda line: line.item_id):
        await session.execute(
            update(Item)
            .where(Item.id == line.item_id, Item.deleted_at.is_(None))
            .values(
                stock=case(
                    (Item.stock > INT32_MAX - line.quantity, INT32_MAX),
                    else_=Item.stock + line.quantity,
                )
            )
        )
