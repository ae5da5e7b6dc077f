from __future__ import annotations

from fastapi import APIRouter, status

from wapang.api.auth.dependencies import AuthenticatedFirst
from wapang.api.orders import service
from wapang.api.orders.errors import EmptyItemList
from wapang.api.orders.models import OrderStatus
from wapang.api.orders.schemas import OrderCreate, OrderOut, OrderStatusChange, OrderSummaryOut
from wapang.api.users.dependencies import CurrentUser
from wapang.db.sessions import ReadSession, WriteSession

router = APIRouter(tags=["orders"], route_class=AuthenticatedFirst)


@router.post("/orders", status_code=status.HTTP_201_CREATED, response_model=OrderOut)
async def place_order(data: OrderCreate, user: CurrentUser, session: WriteSession) -> OrderOut:
    if not data.items:
        raise EmptyItemList()
    return await service.place_order(
        session, user, ((line.item_id, line.quantity) for line in data.items)
    )


@router.get("/orders/{order_id}", response_model=OrderOut)
async def read_order(order_id: str, user: CurrentUser, session: ReadSession) -> OrderOut:
    return await service.read_order(session, user, order_id)


@router.patch("/orders/{order_id}", response_model=OrderOut)
async def change_status(
    order_id: str, data: OrderStatusChange, user: CurrentUser, session: WriteSession
) -> OrderOut:
    return await service.change_status(session, user, order_id, OrderStatus(data.status))


@router.get("/users/me/orders", response_model=list[OrderSummaryOut])
async def my_orders(user: CurrentUser, session: ReadSession) -> list[OrderSummaryOut]:
    return await service.orders_of(session, user)
