from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from wapang.api.auth.dependencies import AuthenticatedFirst
from wapang.api.items import service
from wapang.api.items.models import Item
from wapang.api.items.schemas import ItemCreate, ItemOut, ItemUpdate, ListedItemOut
from wapang.api.users.dependencies import CurrentUser
from wapang.db.sessions import ReadSession, WriteSession

router = APIRouter(tags=["items"], route_class=AuthenticatedFirst)

# Bounds keep a huge number a format error instead of an overflow in the database driver.
PriceBound = Annotated[int | None, Query(ge=-(2**63), le=2**63 - 1)]


@router.post("/items", status_code=status.HTTP_201_CREATED, response_model=ItemOut)
async def add_item(data: ItemCreate, user: CurrentUser, session: WriteSession) -> Item:
    return await service.add_item(session, user, data)


@router.get("/items", response_model=list[ListedItemOut])
async def search_items(
    session: ReadSession,
    store_id: str | None = None,
    min_price: PriceBound = None,
    max_price: PriceBound = None,
    in_stock: bool = False,
) -> list[dict[str, Any]]:
    where = service.ItemFilter(store_id, min_price, max_price, in_stock)
    return await service.search_items(session, where)


@router.patch("/items/{item_id}", response_model=ItemOut)
async def edit_item(
    item_id: str, data: ItemUpdate, user: CurrentUser, session: WriteSession
) -> Item:
    return await service.edit_item(session, user, item_id, data)


@router.delete("/items/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_item(item_id: str, user: CurrentUser, session: WriteSession) -> Response:
    await service.remove_item(session, user, item_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/stores/{store_id}/items", response_model=list[ItemOut])
async def store_items(store_id: str, session: ReadSession) -> list[dict[str, Any]]:
    return await service.items_of_store(session, store_id)
