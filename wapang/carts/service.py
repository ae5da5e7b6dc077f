"""The caller's cart: priced live on every read, ordered by when each line was added."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from wapang.carts.errors import EmptyCart
from wapang.carts.models import CartLine
from wapang.carts.schemas import CartLineSet, CartOut
from wapang.items.models import Item
from wapang.items.service import get_live_item
from wapang.orders.schemas import OrderOut
from wapang.orders.service import place_order
from wapang.pricing import PricedLine, price_lines
from wapang.stores.models import Store
from wapang.users.models import User


async def view_cart(session: AsyncSession, owner: User) -> CartOut:
    rows = await session.execute(
        select(CartLine.quantity, Item, Store)
        .join(Item, Item.id == CartLine.item_id)
        .join(Store, Store.id == Item.store_id)
        .where(CartLine.user_id == owner.id, Item.deleted_at.is_(None))
        .order_by(CartLine.position)
    )
    lines = [
        PricedLine(
            item_id=item.id,
            item_name=item.item_name,
            price=item.price,
            quantity=quantity,
            store_id=store.id,
            store_name=store.store_name,
            delivery_fee=store.delivery_fee,
        )
        for quantity, item, store in rows.all()
    ]
    return CartOut.model_validate(price_lines(lines).model_dump())


async def set_line(session: AsyncSession, owner: User, data: CartLineSet) -> CartOut:
    await get_live_item(session, data.item_id)
    line = await session.get(CartLine, (owner.id, data.item_id))
    if data.quantity == 0:
        if line is not None:
            await session.delete(line)
    elif line is not None:
        line.quantity = data.quantity  # a new quantity keeps the line's place
    else:
        session.add(
            CartLine(
                user_id=owner.id,
                item_id=data.item_id,
                quantity=data.quantity,
                position=await _next_position(session, owner),
            )
        )
    try:
        await session.commit()
    except IntegrityError:
        # The same line added concurrently: the other request won, so set its quantity.
        await session.rollback()
        return await set_line(session, owner, data)
    return await view_cart(session, owner)


async def _next_position(session: AsyncSession, owner: User) -> int:
    last = await session.scalar(
        select(func.max(CartLine.position)).where(CartLine.user_id == owner.id)
    )
    return 0 if last is None else last + 1


async def empty_cart(session: AsyncSession, owner: User) -> None:
    await session.execute(delete(CartLine).where(CartLine.user_id == owner.id))
    await session.commit()


async def checkout(session: AsyncSession, owner: User) -> OrderOut:
    """Order every line of the cart and empty it, or change nothing at all."""
    lines = (
        await session.scalars(
            select(CartLine)
            .join(Item, Item.id == CartLine.item_id)
            .where(CartLine.user_id == owner.id, Item.deleted_at.is_(None))
            .order_by(CartLine.position)
        )
    ).all()
    if not lines:
        raise EmptyCart()
    try:
        order = await place_order(session, owner, ((line.item_id, line.quantity) for line in lines))
        await session.execute(delete(CartLine).where(CartLine.user_id == owner.id))
    except BaseException:
        await session.rollback()
        raise
    await session.commit()
    return order
