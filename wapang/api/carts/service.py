"""Changes to the caller's cart and its checkout (writes: a write session, the response model
returned). The cart is priced live on every read (carts/queries.py)."""

from __future__ import annotations

from sqlalchemy import Executable, delete, func, literal, select, update
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from wapang.api.carts.errors import EmptyCart
from wapang.api.carts.models import CartLine
from wapang.api.carts.queries import priced_cart
from wapang.api.carts.schemas import CartLineSet, CartOut
from wapang.api.items.models import Item
from wapang.api.items.service import require_live_item
from wapang.api.orders.schemas import OrderOut
from wapang.api.orders.service import place_order
from wapang.api.users.queries import Caller
from wapang.db.sessions import RetryingSession


async def set_line(session: AsyncSession, owner: Caller, data: CartLineSet) -> CartOut:
    await require_live_item(session, data.item_id)
    line = (CartLine.user_id == owner.id) & (CartLine.item_id == data.item_id)
    if data.quantity == 0:
        await session.execute(delete(CartLine).where(line))
    else:
        # The update waits behind a checkout claiming this line before it takes any other lock;
        # a line that is not there yet is inserted by an upsert, so concurrent first adds of the
        # same item all succeed and leave one line.
        changed = await session.execute(update(CartLine).where(line).values(quantity=data.quantity))
        if changed.rowcount == 0:  # type: ignore[attr-defined]
            await session.execute(_add_line(session, owner.id, data))
    return await priced_cart(session, owner)


def _add_line(session: AsyncSession, user_id: str, data: CartLineSet) -> Executable:
    """INSERT … SELECT of a new last line, or the quantity of the line a concurrent request
    just added (a new quantity keeps the line's place)."""
    last_position = func.max(CartLine.position)
    new_line = select(
        literal(user_id),
        literal(data.item_id),
        literal(data.quantity),
        func.coalesce(last_position + 1, 0),
    ).where(CartLine.user_id == user_id)
    columns = ["user_id", "item_id", "quantity", "position"]
    if session.get_bind().dialect.name == "sqlite":
        sqlite_upsert = sqlite.insert(CartLine).from_select(columns, new_line)
        return sqlite_upsert.on_conflict_do_update(
            index_elements=["user_id", "item_id"],
            set_={"quantity": sqlite_upsert.excluded.quantity},
        )
    mysql_upsert = mysql.insert(CartLine).from_select(columns, new_line)
    return mysql_upsert.on_duplicate_key_update(quantity=mysql_upsert.inserted.quantity)


async def empty_cart(session: AsyncSession, owner: Caller) -> None:
    await session.execute(delete(CartLine).where(CartLine.user_id == owner.id))


async def checkout(
    session: RetryingSession, owner: Caller, expected_total: int | None = None
) -> OrderOut:
    """Order every line of the cart and empty it, or change nothing at all.

    The cart is claimed first: its lines are locked, so a concurrent checkout of the same cart
    waits, then finds it empty (ERR_024) instead of ordering it a second time. Only the claimed
    lines are removed: a line added while the order is placed stays for the next checkout
    (and its insert never waits in a lock cycle with this one).
    """
    claimed = (
        await session.scalars(
            select(CartLine.item_id).where(CartLine.user_id == owner.id).with_for_update()
        )
    ).all()
    lines = (
        await session.execute(
            select(CartLine.item_id, CartLine.quantity)
            .join(Item, Item.id == CartLine.item_id)
            .where(CartLine.user_id == owner.id, Item.deleted_at.is_(None))
            .order_by(CartLine.position)
        )
    ).all()
    if not lines:
        raise EmptyCart()
    requested = ((item_id, quantity) for item_id, quantity in lines)
    order = await place_order(session, owner, requested, expected_total)
    await session.execute(
        delete(CartLine).where(CartLine.user_id == owner.id, CartLine.item_id.in_(claimed))
    )
    return order
