from __future__ import annotations

from fastapi import APIRouter, status

from wapang.auth.dependencies import AuthenticatedFirst
from wapang.database import WriteSession
from wapang.users import service
from wapang.users.dependencies import CurrentUser
from wapang.users.models import User
from wapang.users.schemas import ProfileUpdate, SignUp, UserOut

router = APIRouter(prefix="/users", tags=["users"], route_class=AuthenticatedFirst)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=UserOut)
async def sign_up(data: SignUp, session: WriteSession) -> User:
    return await service.sign_up(session, data)


@router.get("/me", response_model=UserOut)
async def my_profile(user: CurrentUser) -> User:
    return user


@router.patch("/me", response_model=UserOut)
async def edit_profile(data: ProfileUpdate, user: CurrentUser, session: WriteSession) -> User:
    return await service.update_profile(session, user, data)
