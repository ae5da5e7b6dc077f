from __future__ import annotations

from fastapi import APIRouter, Response, status

from wapang.api.auth.dependencies import AuthenticatedFirst
from wapang.api.reads import json_answer
from wapang.api.stores import queries, service
from wapang.api.stores.schemas import StoreCreate, StoreOut, StoreUpdate
from wapang.api.users.dependencies import CurrentUser
from wapang.db.sessions import Reads, WriteSession

router = APIRouter(prefix="/stores", tags=["stores"], route_class=AuthenticatedFirst)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=StoreOut)
async def open_store(data: StoreCreate, user: CurrentUser, session: WriteSession) -> StoreOut:
    return await service.open_store(session, user, data)


@router.patch("/{store_id}", response_model=StoreOut)
async def edit_store(
    store_id: str, data: StoreUpdate, user: CurrentUser, session: WriteSession
) -> StoreOut:
    return await service.edit_store(session, user, store_id, data)


@router.get("/{store_id}", response_model=StoreOut)
async def get_store(store_id: str, reads: Reads) -> Response:
    return json_answer(await queries.store(reads, store_id))
