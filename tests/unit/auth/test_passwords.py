"""argon2id hashing: off the event loop, never an exception on a bad stored hash."""

from __future__ import annotations

import asyncio
import threading
import time
from functools import partial
from typing import Literal

import pytest
from argon2 import PasswordHasher

from wapang.api.auth import passwords
from wapang.api.auth.errors import TooManyRequests


async def test_hashing_and_verifying_run_off_the_event_loop_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop_thread = threading.get_ident()
    seen: list[int] = []
    real = passwords._hasher

    class Recording(PasswordHasher):
        def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
            seen.append(threading.get_ident())
            return real.hash(password)

        def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
            seen.append(threading.get_ident())
            return real.verify(hash, password)

    monkeypatch.setattr(passwords, "_hasher", Recording())
    stored = await passwords.hash_password("correct horse")
    assert await passwords.verify_password(stored, "correct horse")
    assert len(seen) == 2
    assert loop_thread not in seen


async def test_hash_is_argon2id_with_owasp_cost() -> None:
    stored = await passwords.hash_password("correct horse")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


@pytest.mark.parametrize("stored", ["", "plain-text", "$argon2id$v=19$broken", "$2b$12$bcrypthash"])
async def test_unverifiable_stored_hash_is_a_failed_check_not_an_error(stored: str) -> None:
    assert await passwords.verify_password(stored, "whatever") is False


async def test_unknown_user_fails_after_the_same_work() -> None:
    assert await passwords.verify_password(None, "wapang-timing-equaliser") is False


async def test_a_full_queue_refuses_at_once_with_retry_after() -> None:
    queue = passwords.HashingQueue(threads=2, budget_seconds=0.2)
    queue.cost_seconds = 0.1  # two rounds of two fit in the budget

    results = await asyncio.gather(
        *(queue.run(partial(passwords._hasher.hash, "pw")) for _ in range(10)),
        return_exceptions=True,
    )

    refused = [r for r in results if isinstance(r, TooManyRequests)]
    assert len(refused) == 6
    assert all(error.headers() == {"Retry-After": "1"} for error in refused)
    assert queue.in_flight == 0


def test_a_hash_of_other_parameters_needs_a_rehash() -> None:
    cheaper = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash("pw")
    assert passwords.needs_rehash(cheaper)
    assert not passwords.needs_rehash(passwords._hasher.hash("pw"))


async def test_a_hash_admitted_on_too_low_an_estimate_is_refused_not_started_late() -> None:
    """A flood admitted at a cost measured before it (here 1 ms, really 500 ms): the hashes
    whose turn comes after twice the budget are refused, never run into the request deadline."""
    queue = passwords.HashingQueue(threads=2, budget_seconds=0.1)
    queue.cost_seconds = 0.001
    ran: list[int] = []

    def slow_hash(number: int) -> int:
        ran.append(number)
        time.sleep(0.5)
        return number

    results = await asyncio.gather(
        *(queue.run(partial(slow_hash, number)) for number in range(10)),
        return_exceptions=True,
    )

    refused = [r for r in results if isinstance(r, TooManyRequests)]
    assert sorted(ran) == [0, 1]  # the first round only; the rest waited past 200 ms
    assert results[:2] == [0, 1]
    assert len(refused) == 8
    assert queue.in_flight == 0
