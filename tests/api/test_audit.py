"""Audit events (issue 18 item 5) and the argon2 rehash on sign-in, in-process on both
databases: one `wapang.audit` record per event with `user_id` and `request_id` as fields, and
never a password, token, hash or e-mail address in it."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update

from tests.api.shop import PASSWORD, execute, fetch, open_shop, register, sign_up
from wapang.api.users.models import User

NEW_PASSWORD = "new-waffle-2"


def _events(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "wapang.audit"]


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {name: getattr(record, name, None) for name in ("event", "user_id", "request_id")}


async def test_every_audit_event_names_user_and_request_and_no_secret(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="wapang.audit")
    seller, _, (waffle,) = await open_shop(client, ("와플", 1000, 5))
    buyer = await sign_up(client)
    secrets = [PASSWORD, NEW_PASSWORD, buyer.email, buyer.access_token, buyer.refresh_token]
    caplog.clear()

    steps: list[tuple[str, httpx.Response]] = []
    wrong = {"email": buyer.email, "password": "wrong-password"}
    steps.append(("sign_in.failed", await client.post("/api/auth/tokens", json=wrong)))
    right = {"email": buyer.email, "password": PASSWORD}
    steps.append(("sign_in.succeeded", await client.post("/api/auth/tokens", json=right)))
    rotated = await client.get("/api/auth/tokens/refresh", headers=buyer.refresh_auth)
    secrets += list(rotated.json().values())
    reuse = await client.get("/api/auth/tokens/refresh", headers=buyer.refresh_auth)
    steps.append(("refresh.reuse_detected", reuse))
    order = await buyer.order((waffle["id"], 1))
    order_id = order.json()["order_id"]
    cancel = await buyer.request("PATCH", f"/api/orders/{order_id}", json={"status": "CANCELED"})
    steps.append(("order.status_changed", cancel))
    new_email = f"moved-{buyer.email}"
    secrets.append(new_email)
    moved = await buyer.request("PATCH", "/api/users/me", json={"email": new_email})
    steps.append(("email.changed", moved))
    change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    changed = await buyer.request("PUT", "/api/users/me/password", json=change)
    steps.append(("password.changed", changed))
    secrets += list(changed.json().values())
    fresh = {"Authorization": f"Bearer {changed.json()['access_token']}"}
    everywhere = await client.delete("/api/users/me/sessions", headers=fresh)
    steps.append(("sessions.revoked", everywhere))
    for _ in range(5):
        await client.post("/api/auth/tokens", json={"email": new_email, "password": "nope"})
    throttled = await client.post(
        "/api/auth/tokens", json={"email": new_email, "password": NEW_PASSWORD}
    )
    steps.append(("sign_in.throttled", throttled))

    records = _events(caplog)
    stored_hash = (await fetch(client, select(User.hashed_password).where(User.id == buyer.id)))[0]
    secrets.append(stored_hash[0])
    for event, response in steps:
        matching = [r for r in records if getattr(r, "event", None) == event]
        assert matching, f"no {event} event (response {response.status_code})"
        fields = _fields(matching[0])
        assert fields["user_id"] == buyer.id, (event, fields)
        assert fields["request_id"] == response.headers["X-Request-ID"], (event, fields)
    for record in records:
        text = record.getMessage() + repr(vars(record))
        for secret in secrets:
            assert secret not in text, (record.getMessage(), "leaks a secret")
    assert seller.id not in {getattr(r, "user_id", None) for r in records}


async def test_a_failed_sign_in_for_an_unknown_email_has_no_user(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="wapang.audit")
    email = "nobody-here@example.com"
    response = await client.post("/api/auth/tokens", json={"email": email, "password": "x"})

    [record] = _events(caplog)
    assert _fields(record) == {
        "event": "sign_in.failed",
        "user_id": None,
        "request_id": response.headers["X-Request-ID"],
    }
    assert email not in record.getMessage()


async def test_a_hash_of_older_parameters_is_replaced_on_sign_in(client: httpx.AsyncClient) -> None:
    user = await register(client)
    cheaper = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    await execute(client, update(User).where(User.id == user["id"]).values(hashed_password=cheaper))

    signed_in = await client.post(
        "/api/auth/tokens", json={"email": user["email"], "password": PASSWORD}
    )

    assert signed_in.status_code == 200, signed_in.text
    [(stored,)] = await fetch(client, select(User.hashed_password).where(User.id == user["id"]))
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PasswordHasher().verify(stored, PASSWORD)
    again = await client.post(
        "/api/auth/tokens", json={"email": user["email"], "password": PASSWORD}
    )
    assert again.status_code == 200
    [(unchanged,)] = await fetch(client, select(User.hashed_password).where(User.id == user["id"]))
    assert unchanged == stored  # current parameters: not hashed again
