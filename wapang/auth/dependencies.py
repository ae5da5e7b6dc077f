"""Who is calling: the Authorization header checks of contract §1.4, in their order.

absent → ERR_005, not `Bearer <token>` → ERR_006, token not acceptable → ERR_007.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from wapang.auth.errors import BadAuthorizationHeader, InvalidToken, Unauthenticated
from wapang.auth.models import BlockedToken
from wapang.auth.tokens import TokenClaims, TokenKind, TokenService
from wapang.database import Database, ReadSession, is_canonical_id
from wapang.users.models import User


class _RawHeader(APIKeyHeader):
    """Documents the header in OpenAPI; the parsing below is ours, so the contract's errors apply.
    Unlike `APIKeyHeader` it keeps an empty value: `Authorization:` is malformed, not absent."""

    async def __call__(self, request: HTTPConnection) -> str | None:
        return request.headers.get(self.model.name)


authorization_header = _RawHeader(name="Authorization", auto_error=False)
AuthorizationHeader = Annotated[str | None, Security(authorization_header)]


def bearer_token(header: str) -> str:
    parts = header.split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        raise BadAuthorizationHeader()
    return parts[1]


def _tokens(request: Request) -> TokenService:
    tokens: TokenService = request.app.state.tokens
    return tokens


async def _user_for(session: AsyncSession, claims: TokenClaims) -> User:
    user = await session.get(User, claims.subject) if is_canonical_id(claims.subject) else None
    if user is None:
        raise InvalidToken()
    # Loaded through the read session, used by write transactions too (users/service.py
    # merges it): detached, it stays as loaded whatever that session does next.
    session.expunge(user)
    return user


async def authenticate(request: Request, session: AsyncSession, header: str | None) -> User:
    if header is None:
        raise Unauthenticated()
    claims = _tokens(request).decode(bearer_token(header), TokenKind.ACCESS)
    return await _user_for(session, claims)


async def authenticate_refresh(
    request: Request, session: AsyncSession, header: str | None
) -> TokenClaims:
    if header is None:
        raise Unauthenticated()
    claims = _tokens(request).decode(bearer_token(header), TokenKind.REFRESH)
    await _user_for(session, claims)
    if await session.scalar(select(BlockedToken.jti).where(BlockedToken.jti == claims.token_id)):
        raise InvalidToken()
    return claims


async def authenticate_optional(
    request: Request, session: AsyncSession, header: str | None
) -> User | None:
    if header is None:
        return None
    return await authenticate(request, session, header)


async def require_user(request: Request, session: ReadSession, header: AuthorizationHeader) -> User:
    return await authenticate(request, session, header)


async def optional_user(
    request: Request, session: ReadSession, header: AuthorizationHeader
) -> User | None:
    return await authenticate_optional(request, session, header)


async def require_refresh(
    request: Request, session: ReadSession, header: AuthorizationHeader
) -> TokenClaims:
    return await authenticate_refresh(request, session, header)


CurrentUser = Annotated[User, Depends(require_user)]
OptionalUser = Annotated[User | None, Depends(optional_user)]
RefreshClaims = Annotated[TokenClaims, Depends(require_refresh)]


def _pre_validation(authenticator: object) -> object:
    async def check(request: Request) -> None:
        database: Database = request.app.state.database
        async with database.request_session(reads_only=True) as session:
            await authenticator(request, session, request.headers.get("Authorization"))  # type: ignore[operator]

    return check


# Consulted by the validation error handler: authentication outranks a malformed body (§1.6).
PRE_VALIDATION_CHECKS = {
    require_user: _pre_validation(authenticate),
    optional_user: _pre_validation(authenticate_optional),
    require_refresh: _pre_validation(authenticate_refresh),
}
