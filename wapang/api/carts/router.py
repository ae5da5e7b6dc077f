from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import ValidationError

from wapang.api.auth.dependencies import AuthenticatedFirst
from wapang.api.carts import queries, service
from wapang.api.carts.schemas import CartLineSet, CartOut, CheckoutRequest
from wapang.api.errors import InvalidFieldFormat
from wapang.api.orders.idempotency import IdempotencyKey, respond_once
from wapang.api.orders.schemas import OrderOut
from wapang.api.reads import json_answer
from wapang.api.users.dependencies import CurrentUser
from wapang.db.sessions import Reads, WriteSession

router = APIRouter(prefix="/carts", tags=["carts"], route_class=AuthenticatedFirst)


@router.get("", response_model=CartOut)
async def view_cart(user: CurrentUser, reads: Reads) -> Response:
    return json_answer(await queries.cart(reads, user))


@router.patch("", response_model=CartOut)
async def set_line(data: CartLineSet, user: CurrentUser, session: WriteSession) -> CartOut:
    return await service.set_line(session, user, data)


@router.delete("", status_code=status.HTTP_204_NO_CONTENT)
async def empty_cart(user: CurrentUser, session: WriteSession) -> Response:
    await service.empty_cart(session, user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def checkout_request(request: Request) -> CheckoutRequest:
    """The optional JSON object body; anything else is no body, as it always was."""
    try:
        parsed = json.loads(await request.body() or b"null")
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        return CheckoutRequest()
    try:
        return CheckoutRequest.model_validate(parsed)
    except ValidationError:
        raise InvalidFieldFormat() from None


@router.post("/checkout", status_code=status.HTTP_201_CREATED, response_model=OrderOut)
async def checkout(
    user: CurrentUser,
    session: WriteSession,
    data: Annotated[CheckoutRequest, Depends(checkout_request)],
    key: IdempotencyKey = None,
) -> Response:
    async def order() -> OrderOut:
        return await service.checkout(session, user, data.expected_total_price)

    request = ("POST /api/carts/checkout", data)
    return await respond_once(session, user.id, key, request, order, status.HTTP_201_CREATED)
