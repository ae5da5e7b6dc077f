"""The signed-in user of a request, named by its access token (contract §1.4)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from wapang.auth.dependencies import Authentication, token_service
from wapang.auth.errors import InvalidToken
from wapang.auth.tokens import TokenKind
from wapang.database import is_canonical_id
from wapang.users.models import User


async def user_named(session: AsyncSession, user_id: str) -> User:
    """The user a valid token names; a token for a vanished user is ERR_007 (pitfall 15)."""
    user = await session.get(User, user_id) if is_canonical_id(user_id) else None
    if user is None:
        raise InvalidToken()
    # Loaded through the read session, used by write transactions too (users/service.py
    # merges it): detached, it stays as loaded whatever that session does next.
    session.expunge(user)
    return user


class SignedInUser(Authentication[User]):
    async def identify(self, request: Request, session: AsyncSession, token: str) -> User:
        claims = token_service(request).decode(token, TokenKind.ACCESS)
        return await user_named(session, claims.subject)


class SignedInUserOrAnonymous(Authentication[User | None]):
    """Optional authentication: no header is an anonymous caller, a bad one is still an error."""

    def anonymous(self) -> None:
        return None

    async def identify(self, request: Request, session: AsyncSession, token: str) -> User:
        return await SIGNED_IN.identify(request, session, token)


SIGNED_IN = SignedInUser()
CurrentUser = Annotated[User, Depends(SIGNED_IN)]
OptionalUser = Annotated[User | None, Depends(SignedInUserOrAnonymous())]
