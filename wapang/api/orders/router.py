from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from wapang.api.auth.dependencies import AuthenticatedFirst
from wapang.api.orders import queries, service
from wapang.api.orders.idempotency import IdempotencyKey, respond_once
from wapang.api.orders.models import OrderStatus
from wapang.api.orders.schemas import OrderCreate, OrderOut, OrderStatusChange, OrderSummaryOut
from wapang.api.paging import Paging
from wapang.api.reads import json_answer, page_answer
from wapang.api.users.dependencies import CurrentUser
from wapang.db.sessions import Reads, WriteSession

router = APIRouter(tags=["orders"], route_class=AuthenticatedFirst)


@router.post("/orders", status_code=status.HTTP_201_CREATED, response_model=OrderOut)
async def place_order(
    data: OrderCreate, user: CurrentUser, session: WriteSession, key: IdempotencyKey = None
) -> Response:
    async def order() -> OrderOut:
        return await service.order_items(session, user, data)

    request = ("POST /api/orders", data)
    return await respond_once(session, user.id, key, request, order, status.HTTP_201_CREATED)


@router.get("/orders/{order_id}", response_model=OrderOut)
async def read_order(order_id: str, user: CurrentUser, reads: Reads) -> Response:
    return json_answer(await queries.order(reads, user, order_id))


@router.patch("/orders/{order_id}", response_model=OrderOut)
async def change_status(
    order_id: str, data: OrderStatusChange, user: CurrentUser, session: WriteSession
) -> OrderOut:
    return await service.change_status(session, user, order_id, OrderStatus(data.status))


@router.get("/users/me/orders", response_model=list[OrderSummaryOut])
async def my_orders(user: CurrentUser, reads: Reads, page: Paging, request: Request) -> Response:
    return page_answer(request, await queries.orders_of(reads, user, page))
