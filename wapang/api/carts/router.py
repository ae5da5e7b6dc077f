from __future__ import annotations

from fastapi import APIRouter, Response, status

from wapang.api.auth.dependencies import AuthenticatedFirst
from wapang.api.carts import service
from wapang.api.carts.schemas import CartLineSet, CartOut
from wapang.api.orders.schemas import OrderOut
from wapang.api.users.dependencies import CurrentUser
from wapang.db.sessions import ReadSession, WriteSession

router = APIRouter(prefix="/carts", tags=["carts"], route_class=AuthenticatedFirst)


@router.get("", response_model=CartOut)
async def view_cart(user: CurrentUser, session: ReadSession) -> CartOut:
    return await service.view_cart(session, user)


@router.patch("", response_model=CartOut)
async def set_line(data: CartLineSet, user: CurrentUser, session: WriteSession) -> CartOut:
    return await service.set_line(session, user, data)


@router.delete("", status_code=status.HTTP_204_NO_CONTENT)
async def empty_cart(user: CurrentUser, session: WriteSession) -> Response:
    await service.empty_cart(session, user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/checkout", status_code=status.HTTP_201_CREATED, response_model=OrderOut)
async def checkout(user: CurrentUser, session: WriteSession) -> OrderOut:
    return await service.checkout(session, user)
