"""argon2id hashing: off the event loop, never an exception on a bad stored hash."""

from __future__ import annotations

import threading

import pytest
from argon2 import PasswordHasher

from wapang.api.auth import passwords


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

        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
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
