from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from wapang.api.auth.passwords import verify_password
from wapang.api.auth.schemas import TokenPair
from wapang.api.auth.tokens import TokenClaims, TokenService
from wapang.api.signin.errors import InvalidCredentials
from wapang.api.signin.models import BlockedToken
from wapang.api.signin.schemas import SignIn
from wapang.api.users.models import User
from wapang.db.base import utc_now


async def sign_in(session: AsyncSession, tokens: TokenService, credentials: SignIn) -> TokenPair:
    user = await session.scalar(select(User).where(User.email == credentials.email))
    stored_hash = user.hashed_password if user else None
    if not await verify_password(stored_hash, credentials.password) or user is None:
        raise InvalidCredentials()
    return tokens.issue_pair(user.id)


async def rotate(session: AsyncSession, tokens: TokenService, claims: TokenClaims) -> TokenPair:
    await block(session, claims)
    return tokens.issue_pair(claims.subject)


async def block(session: AsyncSession, claims: TokenClaims) -> None:
    """Blocklist a refresh token; a concurrent second use of the same token loses the race on
    the blocklist's primary key (ERR_007, errors.py)."""
    await session.execute(delete(BlockedToken).where(BlockedToken.expires_at < utc_now()))
    session.add(BlockedToken(jti=claims.token_id, expires_at=claims.expires_at))
    await session.flush()
