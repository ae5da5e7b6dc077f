from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from wapang.api.auth.dependencies import AuthenticatedFirst
from wapang.api.auth.schemas import TokenPair
from wapang.api.signin import service
from wapang.api.signin.dependencies import RefreshClaims
from wapang.api.signin.schemas import SignIn
from wapang.db.sessions import ReadSession, WriteSession

router = APIRouter(prefix="/auth/tokens", tags=["auth"], route_class=AuthenticatedFirst)


@router.post("", response_model=TokenPair)
async def sign_in(credentials: SignIn, session: ReadSession, request: Request) -> TokenPair:
    return await service.sign_in(session, request.app.state.tokens, credentials)


@router.get("/refresh", response_model=TokenPair)
async def refresh(claims: RefreshClaims, session: WriteSession, request: Request) -> TokenPair:
    return await service.rotate(session, request.app.state.tokens, claims)


@router.delete("", status_code=status.HTTP_204_NO_CONTENT)
async def sign_out(claims: RefreshClaims, session: WriteSession) -> Response:
    await service.block(session, claims)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
