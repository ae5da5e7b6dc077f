"""The signed-in user of a request, named by its access token (contract §1.4)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from wapang.api.auth.dependencies import Authentication, token_service
from wapang.api.auth.errors import InvalidToken
from wapang.api.auth.tokens import TokenClaims, TokenKind
from wapang.api.request_context import remember_user
from wapang.api.users.models import User
from wapang.db.base import is_canonical_id


async def user_named(session: AsyncSession, user_id: str) -> User:
    """The user a valid token names; a token for a vanished user is ERR_007 (pitfall 15)."""
    user = None
    if is_canonical_id(user_id):
        user = (await session.scalars(_USER_BY_ID, {"user_id": user_id})).first()
    if user is None:
        raise InvalidToken()
    # Loaded through the read session, used by write transactions too (users/service.py
    # merges it): detached, it stays as loaded whatever that session does next.
    session.expunge(user)
    return user


# Built once: `session.get` builds and hashes a new statement on every request (its cache key
# is computed per statement object), and every authenticated request runs this one.
_USER_BY_ID = select(User).where(User.id == bindparam("user_id"))


async def token_holder(session: AsyncSession, claims: TokenClaims) -> User:
    """The user a token names, if it was issued after their last password change or sign-out
    everywhere: the version is read with the row, no second query."""
    user = await user_named(session, claims.subject)
    if user.token_version != claims.version:
        raise InvalidToken()
    return user


class SignedInUser(Authentication[User]):
    async def identify(self, request: Request, session: AsyncSession, token: str) -> User:
        claims = token_service(request).decode(token, TokenKind.ACCESS)
        user = await token_holder(session, claims)
        remember_user(request, user.id)
        return user


class SignedInUserOrAnonymous(Authentication[User | None]):
    """Optional authentication: no header is an anonymous caller, a bad one is still an error."""

    def anonymous(self) -> None:
        return None

    async def identify(self, request: Request, session: AsyncSession, token: str) -> User:
        return await SIGNED_IN.identify(request, session, token)


SIGNED_IN = SignedInUser()
CurrentUser = Annotated[User, Depends(SIGNED_IN)]
OptionalUser = Annotated[User | None, Depends(SignedInUserOrAnonymous())]
