"""argon2id password hashing, run in worker threads so a burst of sign-ins never stalls the loop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import cache, partial
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP's recommended argon2id cost: 19 MiB of memory, 2 iterations, 1 lane.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

HASHING_THREADS = 2
HASHING_NICENESS = 10
T = TypeVar("T")


def _lower_priority() -> None:
    """Hashing threads yield the CPU to the event loops: a burst of sign-ins slows sign-ins,
    not every other request. (Linux: a thread has its own nice value.)"""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)


# Few threads, each holding 19 MiB while it hashes: a flood of sign-ins queues here instead
# of taking the memory and every core.
_hashing = ThreadPoolExecutor(
    HASHING_THREADS, thread_name_prefix="argon2", initializer=_lower_priority
)


async def _off_the_loop(function: partial[T]) -> T:
    return await asyncio.get_running_loop().run_in_executor(_hashing, function)


@cache
def _dummy_hash() -> str:
    """Verified when the e-mail is unknown, so both failures take the same time."""
    return _hasher.hash("wapang-timing-equaliser")


async def hash_password(password: str) -> str:
    return await _off_the_loop(partial(_hasher.hash, password))


async def verify_password(stored_hash: str | None, password: str) -> bool:
    """False for a mismatch and for any stored hash that cannot be checked: never an exception."""
    return await _off_the_loop(partial(_verify, stored_hash, password))


def _verify(stored_hash: str | None, password: str) -> bool:
    """In a hashing thread; an unknown user's check (no stored hash) does the same work."""
    try:
        if stored_hash is None:
            _hasher.verify(_dummy_hash(), password)
            return False
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError, ValueError):
        return False
