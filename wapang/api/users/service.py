from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from wapang.api.auth.passwords import hash_password
from wapang.api.users.errors import EmailAlreadyExists
from wapang.api.users.models import User
from wapang.api.users.schemas import ProfileUpdate, SignUp


async def _email_taken(session: AsyncSession, email: str, except_user: str | None = None) -> bool:
    query = select(User.id).where(User.email == email)
    if except_user is not None:
        query = query.where(User.id != except_user)
    return await session.scalar(query.limit(1)) is not None


async def sign_up(session: AsyncSession, data: SignUp) -> User:
    if await _email_taken(session, data.email):
        raise EmailAlreadyExists()
    user = User(email=data.email, hashed_password=await hash_password(data.password))
    session.add(user)
    await session.flush()  # a race for the e-mail lost on its unique key is ERR_004 (errors.py)
    return user


async def update_profile(session: AsyncSession, user: User, data: ProfileUpdate) -> User:
    changes = data.changes()
    if "email" in changes and await _email_taken(session, changes["email"], except_user=user.id):
        raise EmailAlreadyExists()
    # The caller was authenticated through the read session: bring it into this transaction.
    user = await session.merge(user, load=False)
    for field, value in changes.items():
        setattr(user, field, value)
    await session.flush()
    return user


async def delete_unused_account(session: AsyncSession, email: str) -> bool:
    """Remove an account that never did anything (e.g. `wapang verify`'s probe); True if found."""
    result = await session.execute(delete(User).where(User.email == email))
    return bool(getattr(result, "rowcount", 0))
