"""The signed-in user of a request, named by its access token (contract §1.4): the token's
signature checked (memoised per token, auth/tokens.py), then one prebuilt statement on the
read pool (users/queries.py), no session."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from wapang.api.auth.dependencies import Authentication, token_service
from wapang.api.auth.errors import InvalidToken
from wapang.api.auth.tokens import TokenClaims, TokenKind
from wapang.api.request_context import remember_user
from wapang.api.users import queries
from wapang.api.users.queries import Caller
from wapang.db.reader import ReadPool


async def token_holder(reads: ReadPool, claims: TokenClaims) -> Caller:
    """The user a token names, if it was issued after their last password change or sign-out
    everywhere: the version is read with the row, no second query. A token for a vanished
    user is ERR_007 (pitfall 15)."""
    user = await queries.caller(reads, claims.subject)
    if user is None or user.token_version != claims.version:
        raise InvalidToken()
    return user


class SignedInUser(Authentication[Caller]):
    async def identify(self, request: Request, reads: ReadPool, token: str) -> Caller:
        claims = token_service(request).decode(token, TokenKind.ACCESS)
        user = await token_holder(reads, claims)
        remember_user(request, user.id)
        return user


class SignedInUserOrAnonymous(Authentication[Caller | None]):
    """Optional authentication: no header is an anonymous caller, a bad one is still an error."""

    def anonymous(self) -> None:
        return None

    async def identify(self, request: Request, reads: ReadPool, token: str) -> Caller:
        return await SIGNED_IN.identify(request, reads, token)


SIGNED_IN = SignedInUser()
CurrentUser = Annotated[Caller, Depends(SIGNED_IN)]
OptionalUser = Annotated[Caller | None, Depends(SignedInUserOrAnonymous())]
