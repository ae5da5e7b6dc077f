"""argon2id password hashing, run in worker threads so a burst of sign-ins never stalls the loop,
in a queue bounded by time so a flood of them is refused instead of queued past the deadline."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from functools import cache, partial
from typing import Annotated, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from fastapi import Depends

from wapang.api.audit import audit
from wapang.api.auth.errors import TooManyRequests

# OWASP's recommended argon2id cost: 19 MiB of memory, 2 iterations, 1 lane.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

HASHING_THREADS = 2
HASHING_NICENESS = 10
# Hashes may wait a quarter of REQUEST_TIMEOUT: their cost is measured before a flood and
# grows under it (threads of every worker share the cores), and the database work follows.
HASHING_SHARE_OF_TIMEOUT = 0.25
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


class HashingQueue:
    """The hashes of one process, bounded by time (contract 14.2): a request whose hash could
    not be done within the budget is refused at once (ERR_025) rather than queued past
    REQUEST_TIMEOUT.

    A request takes its turn (`turn()`, the `HashingTurn` dependency) before it waits for
    anything else, a database connection included: requests waiting for a connection count
    as hashes ahead. The cost of a hash is measured on every run (wall time in its thread, so
    a busy machine counts); a newcomer's wait is the turns ahead of it, divided among the
    threads, times that cost. Counted on the event loop's thread only: no lock needed.
    """

    # Until a hash is measured: about what OWASP's cost takes on one core.
    INITIAL_COST_SECONDS = 0.05
    # Weight of the newest measurement: follows a change of load within a few hashes.
    SMOOTHING = 0.2

    def __init__(self, threads: int, budget_seconds: float) -> None:
        self.threads = threads
        self.budget_seconds = budget_seconds
        self.cost_seconds = self.INITIAL_COST_SECONDS
        self.in_flight = 0

    def expected_wait(self) -> float:
        """Seconds until one more hash would be done, counting those ahead of it."""
        return math.ceil((self.in_flight + 1) / self.threads) * self.cost_seconds

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """A place in the queue for this request's hashes, or ERR_025 when it is too long."""
        if _holds_turn.get():
            yield
            return
        if self.expected_wait() > self.budget_seconds:
            drained = self.in_flight * self.cost_seconds / self.threads
            raise TooManyRequests(retry_after=min(drained, self.budget_seconds))
        self.in_flight += 1
        token = _holds_turn.set(True)
        try:
            yield
        finally:
            _holds_turn.reset(token)
            self.in_flight -= 1

    async def run(self, function: partial[T]) -> T:
        with self.turn():
            return await asyncio.get_running_loop().run_in_executor(
                _hashing, partial(self._timed, function)
            )

    def _timed(self, function: partial[T]) -> T:
        started = time.perf_counter()
        try:
            return function()
        finally:
            elapsed = time.perf_counter() - started
            # A float store is atomic under the GIL; a lost update only delays the average.
            self.cost_seconds += self.SMOOTHING * (elapsed - self.cost_seconds)


# Whether the running request already holds a turn (taken by the `HashingTurn` dependency).
_holds_turn: ContextVar[bool] = ContextVar("holds_hashing_turn", default=False)
queue = HashingQueue(HASHING_THREADS, budget_seconds=15)


def bound_hashing(request_timeout: float) -> None:
    """Hashes may wait a share of REQUEST_TIMEOUT: the rest is for the request's database work
    and for hashes that turn out slower than measured."""
    queue.budget_seconds = request_timeout * HASHING_SHARE_OF_TIMEOUT


async def _hashing_turn() -> AsyncIterator[None]:
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(queue.turn())
        except TooManyRequests:
            audit("hashing.throttled", None)
            raise
        yield


# First among an endpoint's dependencies: a refused request never waits for a connection.
HashingTurn = Annotated[None, Depends(_hashing_turn, scope="function")]


async def warm_up() -> None:
    """Hash once at start-up: measures the cost and prepares the unknown user's hash."""
    await queue.run(partial(_dummy_hash))


async def _off_the_loop(function: partial[T]) -> T:
    return await queue.run(function)


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


def needs_rehash(stored_hash: str) -> bool:
    """True when a hash was made with other parameters than today's (cheap: parses only)."""
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except (InvalidHashError, ValueError):
        return True
