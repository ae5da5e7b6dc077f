from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from wapang.api.audit import audit
from wapang.api.auth.errors import InvalidCredentials
from wapang.api.auth.passwords import hash_password, verify_password
from wapang.api.auth.schemas import TokenPair
from wapang.api.auth.tokens import TokenService
from wapang.api.users.errors import EmailAlreadyExists
from wapang.api.users.models import User
from wapang.api.users.queries import Caller
from wapang.api.users.schemas import PasswordChange, ProfileUpdate, SignUp, UserOut
from wapang.db.base import name_key


async def _email_taken(session: AsyncSession, email: str, except_user: str | None = None) -> bool:
    query = select(User.id).where(User.email_key == name_key(email))
    if except_user is not None:
        query = query.where(User.id != except_user)
    return await session.scalar(query.limit(1)) is not None


async def sign_up(session: AsyncSession, data: SignUp) -> UserOut:
    if await _email_taken(session, data.email):
        raise EmailAlreadyExists()
    user = User(email=data.email, hashed_password=await hash_password(data.password))
    session.add(user)
    await session.flush()  # a race for the e-mail lost on its unique key is ERR_004 (errors.py)
    return UserOut.model_validate(user)


async def update_profile(session: AsyncSession, user: Caller, data: ProfileUpdate) -> UserOut:
    changes = data.changes()
    if "email" in changes and await _email_taken(session, changes["email"], except_user=user.id):
        raise EmailAlreadyExists()
    # The caller's row was read from the read pool: the change is one UPDATE of it here.
    await session.execute(
        update(User)
        .where(User.id == user.id)
        .values(User.with_keys(changes))
        .execution_options(synchronize_session=False)
    )
    if "email" in changes:
        audit("email.changed", user.id)
    return UserOut.model_validate({**user._asdict(), **changes})


async def change_password(
    session: AsyncSession, tokens: TokenService, user: Caller, data: PasswordChange
) -> TokenPair:
    """Contract 14.6: every earlier token ends; the caller goes on with the pair returned."""
    if not await verify_password(user.hashed_password, data.current_password):
        raise InvalidCredentials()
    new_hash = await hash_password(data.new_password)
    version = await _end_earlier_tokens(session, user.id, hashed_password=new_hash)
    audit("password.changed", user.id)
    return tokens.issue_pair(user.id, version)


async def sign_out_everywhere(session: AsyncSession, user: Caller) -> None:
    await _end_earlier_tokens(session, user.id)
    audit("sessions.revoked", user.id)


async def _end_earlier_tokens(session: AsyncSession, user_id: str, **changes: str) -> int:
    """Bump the user's token version (in the database: concurrent bumps all count) and
    return the new one, read in the same transaction."""
    await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(token_version=User.token_version + 1, **changes)
        .execution_options(synchronize_session=False)
    )
    return int(await session.scalar(select(User.token_version).where(User.id == user_id)) or 0)


async def delete_unused_account(session: AsyncSession, email: str) -> bool:
    """Remove an account that never did anything (e.g. `wapang verify`'s probe); True if found."""
    result = await session.execute(delete(User).where(User.email == email))
    return bool(getattr(result, "rowcount", 0))
