from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from wapang.api.auth.dependencies import AuthenticatedFirst
from wapang.api.paging import Paging
from wapang.api.reads import json_answer, page_answer
from wapang.api.reviews import queries, service
from wapang.api.reviews.schemas import (
    ItemReviewOut,
    MyReviewOut,
    ReviewCreate,
    ReviewOut,
    ReviewUpdate,
)
from wapang.api.users.dependencies import CurrentUser, OptionalUser
from wapang.db.sessions import Reads, WriteSession

router = APIRouter(tags=["reviews"], route_class=AuthenticatedFirst)


@router.post(
    "/items/{item_id}/reviews",
    status_code=status.HTTP_201_CREATED,
    response_model=ReviewOut,
)
async def write_review(
    item_id: str, data: ReviewCreate, user: CurrentUser, session: WriteSession
) -> ReviewOut:
    return await service.write_review(session, user, item_id, data)


@router.get(
    "/items/{item_id}/reviews",
    response_model=list[ItemReviewOut],
    response_model_exclude_unset=True,
)
async def item_reviews(
    item_id: str, user: OptionalUser, reads: Reads, page: Paging, request: Request
) -> Response:
    return page_answer(request, await queries.item_reviews(reads, item_id, user, page))


@router.get("/reviews/{review_id}", response_model=ReviewOut, response_model_exclude_unset=True)
async def read_review(review_id: str, user: OptionalUser, reads: Reads) -> Response:
    return json_answer(await queries.review(reads, review_id, user))


@router.patch("/reviews/{review_id}", response_model=ReviewOut)
async def edit_review(
    review_id: str, data: ReviewUpdate, user: CurrentUser, session: WriteSession
) -> ReviewOut:
    return await service.edit_review(session, user, review_id, data)


@router.delete("/reviews/{review_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_review(review_id: str, user: CurrentUser, session: WriteSession) -> Response:
    await service.delete_review(session, user, review_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/users/me/reviews", response_model=list[MyReviewOut])
async def my_reviews(user: CurrentUser, reads: Reads, page: Paging, request: Request) -> Response:
    return page_answer(request, await queries.reviews_by(reads, user, page))
