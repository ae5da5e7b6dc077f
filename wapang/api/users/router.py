from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from wapang.api.auth.dependencies import AuthenticatedFirst, token_service
from wapang.api.auth.passwords import HashingTurn
from wapang.api.auth.schemas import TokenPair
from wapang.api.reads import json_answer
from wapang.api.users import queries, service
from wapang.api.users.dependencies import CurrentUser
from wapang.api.users.schemas import PasswordChange, ProfileUpdate, SignUp, UserOut
from wapang.db.sessions import WriteSession

router = APIRouter(prefix="/users", tags=["users"], route_class=AuthenticatedFirst)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=UserOut)
async def sign_up(data: SignUp, _: HashingTurn, session: WriteSession) -> UserOut:
    return await service.sign_up(session, data)


@router.get("/me", response_model=UserOut)
async def my_profile(user: CurrentUser) -> Response:
    return json_answer(queries.profile(user))


@router.patch("/me", response_model=UserOut)
async def edit_profile(data: ProfileUpdate, user: CurrentUser, session: WriteSession) -> UserOut:
    return await service.update_profile(session, user, data)


@router.put("/me/password", response_model=TokenPair)
async def change_password(
    data: PasswordChange,
    user: CurrentUser,
    _: HashingTurn,
    session: WriteSession,
    request: Request,
) -> TokenPair:
    return await service.change_password(session, token_service(request), user, data)


@router.delete("/me/sessions", status_code=status.HTTP_204_NO_CONTENT)
async def sign_out_everywhere(user: CurrentUser, session: WriteSession) -> Response:
    await service.sign_out_everywhere(session, user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
