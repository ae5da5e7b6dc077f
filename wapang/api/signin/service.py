from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy import Insert, Select, bindparam, delete, exists, or_, select, update
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from wapang.api.audit import audit
from wapang.api.auth.errors import TooManyRequests
from wapang.api.auth.passwords import hash_password, needs_rehash, verify_password
from wapang.api.auth.schemas import TokenPair
from wapang.api.auth.tokens import TokenClaims, TokenService
from wapang.api.signin.errors import InvalidCredentials
from wapang.api.signin.models import BlockedToken, RevokedSession
from wapang.api.signin.schemas import SignIn
from wapang.api.signin.throttle import SignInBackoff, account_key, count_failure, forget_failures
from wapang.api.users.models import User
from wapang.db.base import name_key, utc_now
from wapang.db.reader import ReadPool
from wapang.db.sessions import Database
from wapang.db.statements import Statement


async def sign_in(
    database: Database, backoff: SignInBackoff, tokens: TokenService, credentials: SignIn
) -> TokenPair:
    """Contract 6.1 and 14.2. No connection is held while the hash waits and runs: the reads
    come first, the failure count or a rehash after, each written in a transaction of its own
    (a failed sign-in answers an error, and its count must stay written)."""
    account = account_key(credentials.email)
    async with database.session() as session:  # read only: rolled back at its close
        failures = await backoff.failures(session, account)
        user = await session.scalar(_account_of(credentials.email))
    user_id, stored_hash = (user.id, user.hashed_password) if user else (None, None)
    try:
        backoff.check(failures)
    except TooManyRequests:
        audit("sign_in.throttled", user_id)
        raise
    verified = await verify_password(stored_hash, credentials.password)
    if not verified or user is None:
        async with _transaction(database) as write:
            await count_failure(write, account)
        audit("sign_in.failed", user_id)
        raise InvalidCredentials()
    rehashed = await _rehashed(user.hashed_password, credentials.password)
    if failures is not None or rehashed is not None:
        async with _transaction(database) as write:
            if failures is not None:
                await forget_failures(write, account)
            if rehashed is not None:
                await _store_rehash(write, user, rehashed)
    pair = tokens.issue_pair(user.id, user.token_version)
    audit("sign_in.succeeded", user.id)
    return pair


def _account_of(email: str) -> Select[User]:
    """The account the address names: by its key, as sign-up keeps them apart. The address as
    the column compares it wins over the key: an account whose key is NULL (written by the
    release before the keys) or that the old rules let in beside another of the same key
    is still found by its own address."""
    same_address = User.email == email
    return (
        select(User)
        .where(or_(User.email_key == name_key(email), same_address))
        .order_by(same_address.desc())
        .limit(1)
    )


async def _rehashed(stored_hash: str, password: str) -> str | None:
    """A new hash when the stored one was made with other parameters (argon2's own check);
    skipped, not failed, when the hashing queue is full: the next sign-in does it."""
    if not needs_rehash(stored_hash):
        return None
    with contextlib.suppress(TooManyRequests):
        return await hash_password(password)
    return None


async def _store_rehash(session: AsyncSession, user: User, new_hash: str) -> None:
    # Conditional on the hash just verified: a concurrent password change wins.
    await session.execute(
        update(User)
        .where(User.id == user.id, User.hashed_password == user.hashed_password)
        .values(hashed_password=new_hash)
        .execution_options(synchronize_session=False)
    )


async def rotate(session: AsyncSession, tokens: TokenService, claims: TokenClaims) -> TokenPair:
    """A new pair continuing the same sign-in: never past its SESSION_MAX_AGE."""
    await block(session, claims)
    return tokens.issue_pair(claims.subject, claims.version, claims.session)


async def block(session: AsyncSession, claims: TokenClaims) -> None:
    """Blocklist a refresh token; a concurrent second use of the same token loses the race on
    the blocklist's primary key (ERR_007, errors.py)."""
    await session.execute(delete(BlockedToken).where(BlockedToken.expires_at < utc_now()))
    session.add(BlockedToken(jti=claims.token_id, expires_at=claims.expires_at))
    await session.flush()


_TOKEN_STATE = Statement(
    select(
        exists().where(BlockedToken.jti == bindparam("token_id")),
        exists().where(RevokedSession.session_id == bindparam("session_id")),
    )
)


async def refresh_token_state(reads: ReadPool, claims: TokenClaims) -> tuple[bool, bool]:
    """(blocked, session revoked) in one round trip."""
    values = {"token_id": claims.token_id, "session_id": claims.session.session_id}
    [(blocked, revoked)] = await reads.rows(_TOKEN_STATE, values)
    return bool(blocked), bool(revoked)


async def revoke_session(database: Database, tokens: TokenService, claims: TokenClaims) -> None:
    """A rotated refresh token came back: one of its two holders is not its owner. Every
    refresh token of the sign-in ends (contract 14.6), committed although the request fails."""
    async with _transaction(database) as write:
        await write.execute(delete(RevokedSession).where(RevokedSession.expires_at < utc_now()))
        row = {
            "session_id": claims.session.session_id,
            "expires_at": tokens.session_ends_at(claims.session),
        }
        await write.execute(_insert_once(write, row))
    audit("refresh.reuse_detected", claims.subject, session_id=claims.session.session_id)


def _insert_once(session: AsyncSession, row: dict[str, object]) -> Insert:
    """Two reuses at once revoke the session once: the second insert is a no-op."""
    if session.get_bind().dialect.name == "sqlite":
        return sqlite.insert(RevokedSession).values(row).on_conflict_do_nothing()
    return mysql.insert(RevokedSession).values(row).prefix_with("IGNORE")


@contextlib.asynccontextmanager
async def _transaction(database: Database) -> AsyncIterator[AsyncSession]:
    """A write of its own, committed whatever the request answers next."""
    async with database.session() as session:
        yield session
        await session.commit()
