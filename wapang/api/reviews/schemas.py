from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from wapang.api.schemas import PatchModel, RequestModel

Rating = Annotated[int, Field(ge=1, le=5)]


class ReviewCreate(RequestModel):
    rating: Rating
    comment: str = Field(max_length=500)


class ReviewUpdate(PatchModel):
    rating: Rating | None = None
    comment: str | None = Field(None, max_length=500)


class ItemReviewOut(BaseModel):
    """`is_writer` is left unset, and so absent from the JSON, for anonymous callers."""

    review_id: str
    writer_nickname: str | None
    is_writer: bool = False
    rating: int
    comment: str


class ReviewOut(ItemReviewOut):
    item_id: str


class MyReviewOut(BaseModel):
    review_id: str
    item_id: str
    item_name: str
    comment: str
    rating: int
