from __future__ import annotations

from fastapi import APIRouter, status

from wapang.api.auth.dependencies import AuthenticatedFirst
from wapang.api.users import service
from wapang.api.users.dependencies import CurrentUser
from wapang.api.users.models import User
from wapang.api.users.schemas import ProfileUpdate, SignUp, UserOut
from wapang.db.sessions import WriteSession

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
