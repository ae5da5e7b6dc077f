from __future__ import annotations

from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from wapang.api.items.models import Item
from wapang.api.items.service import get_live_item, require_live_item
from wapang.api.reviews.errors import (
    NicknameNotSet,
    NotYourReview,
    ReviewAlreadyExists,
    ReviewNotFound,
)
from wapang.api.reviews.models import Review
from wapang.api.reviews.schemas import MyReviewOut, ReviewCreate, ReviewOut, ReviewUpdate
from wapang.api.users.models import User
from wapang.db.base import is_canonical_id, table_of
from wapang.db.lookups import get_owned


def _review_out(review: Review, writer_nickname: str | None, viewer: User | None) -> ReviewOut:
    shown = ReviewOut(
        review_id=review.id,
        item_id=review.item_id,
        writer_nickname=writer_nickname,
        rating=review.rating,
        comment=review.comment,
    )
    if viewer is not None:
        shown.is_writer = review.writer_id == viewer.id
    return shown


def _with_writer() -> Select[Review, str | None]:
    return select(Review, User.nickname).join(User, User.id == Review.writer_id)


async def write_review(
    session: AsyncSession, writer: User, item_id: str, data: ReviewCreate
) -> ReviewOut:
    await get_live_item(session, item_id)
    if writer.nickname is None:
        raise NicknameNotSet()
    taken = select(Review.id).where(Review.writer_id == writer.id, Review.item_id == item_id)
    if await session.scalar(taken) is not None:
        raise ReviewAlreadyExists()
    review = Review(item_id=item_id, writer_id=writer.id, **data.model_dump())
    session.add(review)
    await session.flush()
    return _review_out(review, writer.nickname, writer)


async def item_reviews(
    session: AsyncSession, item_id: str, viewer: User | None
) -> list[dict[str, Any]]:
    """`ItemReviewOut` fields, oldest first; `is_writer` only for a signed-in viewer."""
    await require_live_item(session, item_id)
    rows = await session.execute(_ITEM_REVIEWS, {"item_id": item_id})
    reviews = []
    for review_id, writer_id, nickname, rating, comment in rows:
        shown = {
            "review_id": review_id,
            "writer_nickname": nickname,
            "rating": rating,
            "comment": comment,
        }
        if viewer is not None:
            shown["is_writer"] = writer_id == viewer.id
        reviews.append(shown)
    return reviews


# The listing reads plain columns with statements built once (see items/service.py).
_REVIEWS, _USERS = table_of(Review), table_of(User)
_reviews, _users = _REVIEWS.c, _USERS.c
_ITEM_REVIEWS = (
    select(_reviews.id, _reviews.writer_id, _users.nickname, _reviews.rating, _reviews.comment)
    .join_from(_REVIEWS, _USERS, _users.id == _reviews.writer_id)
    .where(_reviews.item_id == bindparam("item_id"))
    .order_by(_reviews.created_at, _reviews.id)
)


async def read_review(session: AsyncSession, review_id: str, viewer: User | None) -> ReviewOut:
    if not is_canonical_id(review_id):
        raise ReviewNotFound()
    row = (await session.execute(_with_writer().where(Review.id == review_id))).first()
    if row is None:
        raise ReviewNotFound()
    review, nickname = row
    return _review_out(review, nickname, viewer)


async def _own_review(session: AsyncSession, writer: User, review_id: str) -> Review:
    return await get_owned(
        session, Review, review_id, writer.id, missing=ReviewNotFound, foreign=NotYourReview
    )


async def edit_review(
    session: AsyncSession, writer: User, review_id: str, data: ReviewUpdate
) -> ReviewOut:
    review = await _own_review(session, writer, review_id)
    for field, value in data.changes().items():
        setattr(review, field, value)
    await session.flush()
    return _review_out(review, writer.nickname, writer)


async def delete_review(session: AsyncSession, writer: User, review_id: str) -> None:
    review = await _own_review(session, writer, review_id)
    await session.delete(review)
    await session.flush()


async def reviews_by(session: AsyncSession, writer: User) -> list[MyReviewOut]:
    query = (
        select(Review, Item.item_name)
        .join(Item, Item.id == Review.item_id)
        .where(Review.writer_id == writer.id)
        .order_by(Review.created_at, Review.id)
    )
    return [
        MyReviewOut(
            review_id=review.id,
            item_id=review.item_id,
            item_name=item_name,
            comment=review.comment,
            rating=review.rating,
        )
        for review, item_name in (await session.execute(query)).all()
    ]
