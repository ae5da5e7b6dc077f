from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from wapang.api.auth.dependencies import AuthenticatedFirst
from wapang.api.items import queries, service
from wapang.api.items.schemas import ItemCreate, ItemOut, ItemUpdate, ListedItemOut
from wapang.api.paging import Paging
from wapang.api.reads import page_answer
from wapang.api.users.dependencies import CurrentUser
from wapang.db.sessions import Reads, WriteSession

router = APIRouter(tags=["items"], route_class=AuthenticatedFirst)

# Bounds keep a huge number a format error instead of an overflow in the database driver.
PriceBound = Annotated[int | None, Query(ge=-(2**63), le=2**63 - 1)]


@router.post("/items", status_code=status.HTTP_201_CREATED, response_model=ItemOut)
async def add_item(data: ItemCreate, user: CurrentUser, session: WriteSession) -> ItemOut:
    return await service.add_item(session, user, data)


@router.get("/items", response_model=list[ListedItemOut])
async def search_items(
    request: Request,
    reads: Reads,
    page: Paging,
    store_id: str | None = None,
    min_price: PriceBound = None,
    max_price: PriceBound = None,
    in_stock: bool = False,
) -> Response:
    where = queries.ItemFilter(store_id, min_price, max_price, in_stock)
    return page_answer(request, await queries.search(reads, where, page))


@router.patch("/items/{item_id}", response_model=ItemOut)
async def edit_item(
    item_id: str, data: ItemUpdate, user: CurrentUser, session: WriteSession
) -> ItemOut:
    return await service.edit_item(session, user, item_id, data)


@router.delete("/items/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_item(item_id: str, user: CurrentUser, session: WriteSession) -> Response:
    await service.remove_item(session, user, item_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/stores/{store_id}/items", response_model=list[ItemOut])
async def store_items(store_id: str, request: Request, reads: Reads, page: Paging) -> Response:
    return page_answer(request, await queries.items_of_store(reads, store_id, page))
