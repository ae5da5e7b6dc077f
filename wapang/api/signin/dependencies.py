"""The refresh token of a sign-out or a rotation: valid, for an existing user, issued after the
user's last password change or sign-out everywhere, not blocked, of a sign-in not revoked."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from wapang.api.auth.dependencies import Authentication, token_service
from wapang.api.auth.errors import InvalidToken
from wapang.api.auth.tokens import TokenClaims, TokenKind
from wapang.api.signin.service import refresh_token_state, revoke_session
from wapang.api.users.dependencies import token_holder
from wapang.db.reader import ReadPool
from wapang.db.sessions import Database


class RefreshToken(Authentication[TokenClaims]):
    async def identify(self, request: Request, reads: ReadPool, token: str) -> TokenClaims:
        tokens = token_service(request)
        claims = tokens.decode(token, TokenKind.REFRESH)
        await token_holder(reads, claims)
        blocked, revoked = await refresh_token_state(reads, claims)
        if revoked:
            raise InvalidToken()
        if blocked:
            # Presented again after its rotation (or sign-out): the whole sign-in ends.
            database: Database = request.app.state.database
            await revoke_session(database, tokens, claims)
            raise InvalidToken()
        return claims


RefreshClaims = Annotated[TokenClaims, Depends(RefreshToken())]
