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
# A hash admitted at that estimate is still started when the estimate was too low by as much
# again (half of REQUEST_TIMEOUT, then), and refused after: late refusals stay rare, and the
# other half of the deadline is left for the hash itself and the database work.
LATEST_START_IN_BUDGETS = 2
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

    The estimate is made when a flood arrives, from hashes measured before it, and the flood
    itself slows them (more threads than cores, the requests' own work): a hash that still
    has not started when its turn is older than twice the budget is not started at all but
    refused (ERR_025), so no admitted request waits into REQUEST_TIMEOUT's 503 however wrong
    the estimate was.
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
        if _turn_taken_at.get() is not None:
            yield
            return
        if self.expected_wait() > self.budget_seconds:
            drained = self.in_flight * self.cost_seconds / self.threads
            raise TooManyRequests(retry_after=min(drained, self.budget_seconds))
        self.in_flight += 1
        token = _turn_taken_at.set(time.monotonic())
        try:
            yield
        finally:
            _turn_taken_at.reset(token)
            self.in_flight -= 1

    async def run(self, function: partial[T]) -> T:
        with self.turn():
            taken_at = _turn_taken_at.get()
            assert taken_at is not None  # set by turn()
            start_by = taken_at + self.budget_seconds * LATEST_START_IN_BUDGETS
            try:
                return await asyncio.get_running_loop().run_in_executor(
                    _hashing, partial(self._timed, function, start_by)
                )
            except _TooLate:
                audit("hashing.throttled", None)
                raise TooManyRequests(retry_after=self.budget_seconds) from None

    def _timed(self, function: partial[T], start_by: float) -> T:
        """In a hashing thread: the hash, timed, unless its turn came too late."""
        if time.monotonic() > start_by:
            raise _TooLate()
        started = time.perf_counter()
        try:
            return function()
        finally:
            elapsed = time.perf_counter() - started
            # A float store is atomic under the GIL; a lost update only delays the average.
            self.cost_seconds += self.SMOOTHING * (elapsed - self.cost_seconds)


class _TooLate(Exception):
    """A hash whose turn began longer ago than the budget, refused before it started."""


# When the running request took its turn (the `HashingTurn` dependency), if it holds one.
_turn_taken_at: ContextVar[float | None] = ContextVar("hashing_turn_taken_at", default=None)
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
    """Prepares the unknown user's hash, then measures the cost with every hashing thread busy
    at once, as in a flood: a lone hash on an idle machine is the cheapest a hash ever is, and
    admitting a flood at that cost would refuse its excess late (at the budget) not at once."""
    await queue.run(partial(_dummy_hash))
    for _ in range(2):
        await asyncio.gather(
            *(queue.run(partial(_hasher.hash, "wapang-warm-up")) for _ in range(queue.threads))
        )


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
