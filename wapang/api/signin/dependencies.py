"""The refresh token of a sign-out or a rotation: valid, for an existing user, not blocked."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wapang.api.auth.dependencies import Authentication, token_service
from wapang.api.auth.errors import InvalidToken
from wapang.api.auth.tokens import TokenClaims, TokenKind
from wapang.api.signin.models import BlockedToken
from wapang.api.users.dependencies import user_named


class RefreshToken(Authentication[TokenClaims]):
    async def identify(self, request: Request, session: AsyncSession, token: str) -> TokenClaims:
        claims = token_service(request).decode(token, TokenKind.REFRESH)
        await user_named(session, claims.subject)
        blocked = select(BlockedToken.jti).where(BlockedToken.jti == claims.token_id)
        if await session.scalar(blocked) is not None:
            raise InvalidToken()
        return claims


RefreshClaims = Annotated[TokenClaims, Depends(RefreshToken())]
