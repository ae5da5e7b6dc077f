from __future__ import annotations

from fastapi import APIRouter, status

from wapang.auth.dependencies import CurrentUser
from wapang.database import ReadSession, WriteSession
from wapang.items.schemas import ItemOut
from wapang.items.service import items_of_store
from wapang.stores import service
from wapang.stores.schemas import StoreCreate, StoreOut, StoreUpdate

router = APIRouter(prefix="/stores", tags=["stores"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=StoreOut)
async def open_store(data: StoreCreate, user: CurrentUser, session: WriteSession) -> object:
    return await service.open_store(session, user, data)


@router.patch("/{store_id}", response_model=StoreOut)
async def edit_store(
    store_id: str, data: StoreUpdate, user: CurrentUser, session: WriteSession
) -> object:
    return await service.edit_store(session, user, store_id, data)


@router.get("/{store_id}", response_model=StoreOut)
async def get_store(store_id: str, session: ReadSession) -> object:
    return await service.get_store(session, store_id)


@router.get("/{store_id}/items", response_model=list[ItemOut])
async def store_items(store_id: str, session: ReadSession) -> object:
    return await items_of_store(session, store_id)
