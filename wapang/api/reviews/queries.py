"""The reviews domain's reads (api/reads.py): an item's reviews, a review, the caller's
reviews. `is_writer` is answered to a signed-in caller only: an anonymous read selects no such
column, so its JSON has no such key (the schemas' "unset")."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, select

from wapang.api.items.models import Item
from wapang.api.items.queries import require_live_item
from wapang.api.paging import Page
from wapang.api.reads import Listing, Query
from wapang.api.reviews.errors import ReviewNotFound
from wapang.api.reviews.models import Review
from wapang.api.reviews.schemas import ItemReviewOut, MyReviewOut, ReviewOut
from wapang.api.users.models import User
from wapang.api.users.queries import Caller
from wapang.db.base import is_canonical_id, table_of
from wapang.db.reader import ReadPool

_REVIEWS, _USERS, _ITEMS = table_of(Review), table_of(User), table_of(Item)
_reviews, _users, _items = _REVIEWS.c, _USERS.c, _ITEMS.c
_IS_WRITER = (_reviews.writer_id == bindparam("viewer_id")).label("is_writer")
_ANONYMOUS = ("review_id", "writer_nickname", "rating", "comment", "item_id")


def _with_writer(*shown: ColumnElement[Any]) -> Select[Any]:
    columns: list[ColumnElement[Any]] = [
        _reviews.id.label("review_id"),
        _users.nickname.label("writer_nickname"),
        *shown,
        _reviews.rating,
        _reviews.comment,
    ]
    return select(*columns).join_from(_REVIEWS, _USERS, _users.id == _reviews.writer_id)


def _item_reviews(*shown: ColumnElement[Any]) -> Listing:
    return Listing(
        _with_writer(*shown)
        .where(_reviews.item_id == bindparam("item_id"))
        .order_by(_reviews.created_at, _reviews.id),
        ItemReviewOut,
        _reviews.created_at,
        _reviews.id,
        fields=_ANONYMOUS if not shown else None,
    )


def _review(*shown: ColumnElement[Any]) -> Query:
    return Query(
        _with_writer(*shown)
        .add_columns(_reviews.item_id)
        .where(_reviews.id == bindparam("review_id")),
        ReviewOut,
        fields=_ANONYMOUS if not shown else None,
    )


ITEM_REVIEWS = {False: _item_reviews(), True: _item_reviews(_IS_WRITER)}
REVIEW = {False: _review(), True: _review(_IS_WRITER)}
MY_REVIEWS = Listing(
    select(
        _reviews.id.label("review_id"),
        _reviews.item_id,
        _items.item_name,
        _reviews.comment,
        _reviews.rating,
    )
    .join_from(_REVIEWS, _ITEMS, _items.id == _reviews.item_id)
    .where(_reviews.writer_id == bindparam("writer_id"))
    .order_by(_reviews.created_at, _reviews.id),
    MyReviewOut,
    _reviews.created_at,
    _reviews.id,
)


def _viewer(viewer: Caller | None) -> dict[str, str]:
    return {} if viewer is None else {"viewer_id": viewer.id}


async def item_reviews(
    reads: ReadPool, item_id: str, viewer: Caller | None, page: Page
) -> tuple[bytes, str | None]:
    """Oldest first; `is_writer` only for a signed-in viewer."""
    await require_live_item(reads, item_id)
    listing = ITEM_REVIEWS[viewer is not None]
    return await listing.page(reads, {"item_id": item_id, **_viewer(viewer)}, page)


async def review(reads: ReadPool, review_id: str, viewer: Caller | None) -> bytes:
    query = REVIEW[viewer is not None]
    values = {"review_id": review_id, **_viewer(viewer)}
    body = await query.one(reads, values) if is_canonical_id(review_id) else None
    if body is None:
        raise ReviewNotFound()
    return body


async def reviews_by(reads: ReadPool, writer: Caller, page: Page) -> tuple[bytes, str | None]:
    return await MY_REVIEWS.page(reads, {"writer_id": writer.id}, page)
