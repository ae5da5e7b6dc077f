"""The stores domain's reads (api/reads.py): a store, and whether one exists (the 404 of a
listing under it)."""

from __future__ import annotations

from sqlalchemy import bindparam, select

from wapang.api.reads import Lookup, Query
from wapang.api.stores.errors import StoreNotFound
from wapang.api.stores.models import Store
from wapang.api.stores.schemas import StoreOut
from wapang.db.base import is_canonical_id, table_of
from wapang.db.reader import ReadPool

_stores = table_of(Store).c
_BY_ID = _stores.id == bindparam("store_id")
STORE = Query(
    select(*(getattr(_stores, name) for name in StoreOut.model_fields)).where(_BY_ID), StoreOut
)
STORE_EXISTS = Lookup(select(_stores.id).where(_BY_ID))


async def store(reads: ReadPool, store_id: str) -> bytes:
    body = await STORE.one(reads, {"store_id": store_id}) if is_canonical_id(store_id) else None
    if body is None:
        raise StoreNotFound()
    return body


async def require_store(reads: ReadPool, store_id: str) -> None:
    """The store exists, or ERR_010: one column, a statement built once."""
    if not is_canonical_id(store_id) or not await STORE_EXISTS.found(reads, {"store_id": store_id}):
        raise StoreNotFound()
