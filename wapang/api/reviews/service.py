"""Review writes (a write session, the response model returned). Reads are reviews/queries.py."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wapang.api.items.service import get_live_item
from wapang.api.reviews.errors import (
    NicknameNotSet,
    NotYourReview,
    ReviewAlreadyExists,
    ReviewNotFound,
)
from wapang.api.reviews.models import Review
from wapang.api.reviews.schemas import ReviewCreate, ReviewOut, ReviewUpdate
from wapang.api.users.queries import Caller
from wapang.db.lookups import get_owned


def _review_out(review: Review, writer_nickname: str | None, viewer: Caller) -> ReviewOut:
    shown = ReviewOut(
        review_id=review.id,
        item_id=review.item_id,
        writer_nickname=writer_nickname,
        rating=review.rating,
        comment=review.comment,
    )
    shown.is_writer = review.writer_id == viewer.id
    return shown


async def write_review(
    session: AsyncSession, writer: Caller, item_id: str, data: ReviewCreate
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


async def _own_review(session: AsyncSession, writer: Caller, review_id: str) -> Review:
    return await get_owned(
        session, Review, review_id, writer.id, missing=ReviewNotFound, foreign=NotYourReview
    )


async def edit_review(
    session: AsyncSession, writer: Caller, review_id: str, data: ReviewUpdate
) -> ReviewOut:
    review = await _own_review(session, writer, review_id)
    for field, value in data.changes().items():
        setattr(review, field, value)
    await session.flush()
    return _review_out(review, writer.nickname, writer)


async def delete_review(session: AsyncSession, writer: Caller, review_id: str) -> None:
    review = await _own_review(session, writer, review_id)
    await session.delete(review)
    await session.flush()
