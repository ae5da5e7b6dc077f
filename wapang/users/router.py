from __future__ import annotations

from fastapi import APIRouter, status

from wapang.auth.dependencies import CurrentUser
from wapang.database import ReadSession, WriteSession
from wapang.orders.schemas import OrderSummaryOut
from wapang.orders.service import orders_of
from wapang.reviews.schemas import MyReviewOut
from wapang.reviews.service import reviews_by
from wapang.users import service
from wapang.users.models import User
from wapang.users.schemas import ProfileUpdate, SignUp, UserOut

router = APIRouter(prefix="/users", tags=["users"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=UserOut)
async def sign_up(data: SignUp, session: WriteSession) -> User:
    return await service.sign_up(session, data)


@router.get("/me", response_model=UserOut)
async def my_profile(user: CurrentUser) -> User:
    return user


@router.patch("/me", response_model=UserOut)
async def edit_profile(data: ProfileUpdate, user: CurrentUser, session: WriteSession) -> User:
    return await service.update_profile(session, user, data)


@router.get("/me/orders", response_model=list[OrderSummaryOut])
async def my_orders(user: CurrentUser, session: ReadSession) -> list[OrderSummaryOut]:
    return await orders_of(session, user)


@router.get("/me/reviews", response_model=list[MyReviewOut])
async def my_reviews(user: CurrentUser, session: ReadSession) -> list[MyReviewOut]:
    return await reviews_by(session, user)
