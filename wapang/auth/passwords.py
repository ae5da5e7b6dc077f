"""argon2id password hashing, run in worker threads so a burst of sign-ins never stalls the loop."""

from __future__ import annotations

from functools import cache

from anyio import to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP's recommended argon2id cost: 19 MiB of memory, 2 iterations, 1 lane.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@cache
def _dummy_hash() -> str:
    """Verified when the e-mail is unknown, so both failures take the same time."""
    return _hasher.hash("wapang-timing-equaliser")


async def hash_password(password: str) -> str:
    return await to_thread.run_sync(_hasher.hash, password)


async def verify_password(stored_hash: str | None, password: str) -> bool:
    """False for a mismatch and for any stored hash that cannot be checked: never an exception."""
    user_exists = stored_hash is not None
    return await to_thread.run_sync(_verify, stored_hash or _dummy_hash(), password, user_exists)


def _verify(stored_hash: str, password: str, user_exists: bool) -> bool:
    try:
        return _hasher.verify(stored_hash, password) and user_exists
    except (VerifyMismatchError, VerificationError, InvalidHashError, ValueError):
        return False
