"""Contract 14.2 and 14.6 over real HTTP: `wapang serve --workers 2` on SQLite and on MariaDB.

The per-account back-off (one count for every worker and for two separate servers on one
database, concurrent failures counted exactly, doubling, capped, reset by a success), the
hashing bound under a flood of 300 sign-ins, a password change and a sign-out everywhere ending
every earlier token, a reused refresh token revoking its sign-in, and the absolute session age.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import SERVED_BACKENDS, server_env, serving
from tests.api.shop import (
    ERR_001,
    ERR_002,
    ERR_003,
    ERR_007,
    PASSWORD,
    Shopper,
    assert_error,
    sign_up,
    token_claims,
)
from tests.databases import mariadb_available, mariadb_database, mariadb_settings
from tests.examples import TEST_SECRETS
from tests.requirements import require_available
from tests.servers import Server, wapang_server
from wapang.db.migrate import upgrade

ERR_025 = (429, "ERR_025", "TOO MANY REQUESTS")
WRONG = "wrong-password"
ME = "/api/users/me"
REFRESH = "/api/auth/tokens/refresh"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_email() -> str:
    return f"acct-{uuid.uuid4().hex[:12]}@example.com"


async def sign_in(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await http.post("/api/auth/tokens", json={"email": email, "password": password})


def assert_throttled(response: httpx.Response, at_most: float) -> int:
    """ERR_025 with a `Retry-After` of whole seconds, 1 to `at_most`; returns it."""
    assert_error(response, *ERR_025)
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= at_most, retry_after
    return retry_after


def client_of(server: Server) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
    return httpx.AsyncClient(base_url=server.base_url, timeout=60, limits=limits)


def served_with(backends: list[Any] = SERVED_BACKENDS, **settings: Any) -> Any:
    """A module fixture: `wapang serve --workers 2` with these settings, on each backend."""

    @pytest.fixture(scope="module", params=backends)
    def fixture(
        request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[Server]:
        directory = tmp_path_factory.mktemp(f"accounts-{request.param}")
        with serving(request.param, directory, **settings) as running:
            yield running

    return fixture


fast_backoff_server = served_with(SIGN_IN_BACKOFF_SECONDS=1, SIGN_IN_BACKOFF_MAX_SECONDS=2)
# Requests may wait 10 s, hashes 2.5 s of it: a flood of 300 is far more than the workers hash
# in that time, and the rest of the deadline absorbs a busy shared machine.
short_deadline_server = served_with(REQUEST_TIMEOUT=10)
short_session_server = served_with(SESSION_MAX_AGE=2)


# --- 14.2 per account ----------------------------------------------------------------------


async def test_five_failures_throttle_the_account_even_with_the_right_password(
    http: httpx.AsyncClient,
) -> None:
    shopper = await sign_up(http)

    for _ in range(5):
        assert_error(await sign_in(http, shopper.email, WRONG), *ERR_001)

    assert_throttled(await sign_in(http, shopper.email), at_most=30)
    # The same address in other letter case is the same account.
    assert_throttled(await sign_in(http, shopper.email.upper(), WRONG), at_most=30)
    # Another account is not affected.
    other = await sign_up(http)
    assert (await sign_in(http, other.email)).status_code == 200


async def test_an_unknown_email_is_throttled_like_a_known_one(http: httpx.AsyncClient) -> None:
    email = new_email()
    for _ in range(5):
        assert_error(await sign_in(http, email, WRONG), *ERR_001)
    assert_throttled(await sign_in(http, email, WRONG), at_most=30)


async def test_a_success_resets_the_count(http: httpx.AsyncClient) -> None:
    shopper = await sign_up(http)
    for _ in range(4):
        assert_error(await sign_in(http, shopper.email, WRONG), *ERR_001)
    assert (await sign_in(http, shopper.email)).status_code == 200

    for _ in range(4):
        assert_error(await sign_in(http, shopper.email, WRONG), *ERR_001)
    assert (await sign_in(http, shopper.email)).status_code == 200


async def test_concurrent_failures_are_all_counted(http: httpx.AsyncClient) -> None:
    """Twelve wrong passwords at once on two workers: every one that was checked (401) is
    counted, none lost to a race, as the length of the back-off they earn shows."""
    email = new_email()

    responses = await asyncio.gather(*(sign_in(http, email, WRONG) for _ in range(12)))

    statuses = Counter(response.status_code for response in responses)
    assert set(statuses) <= {401, 429}, statuses
    counted = statuses[401]
    assert counted >= 5
    expected = min(30 * 2 ** (counted - 5), 900)
    retry_after = assert_throttled(await sign_in(http, email, WRONG), at_most=expected)
    assert retry_after >= expected - 10, (counted, retry_after)


@pytest.fixture(params=SERVED_BACKENDS)
def two_servers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    """Two separate `wapang serve` processes (not workers of one) on one database."""
    backend: str = request.param
    with ExitStack() as stack:
        if backend == "sqlite":
            env = server_env(backend, tmp_path, "")
        else:
            require_available(mariadb_available(), "MariaDB on 127.0.0.1:3306")
            name = stack.enter_context(mariadb_database())
            upgrade(mariadb_settings(name))
            env = server_env(backend, tmp_path, name)
        first = stack.enter_context(wapang_server(tmp_path, **env))
        second = stack.enter_context(wapang_server(tmp_path, **env))
        yield first, second


async def test_two_servers_share_one_count(two_servers: tuple[Server, Server]) -> None:
    first, second = (client_of(server) for server in two_servers)
    async with first, second:
        shopper = await sign_up(first)
        for attempt in range(5):
            client = first if attempt % 2 else second
            assert_error(await sign_in(client, shopper.email, WRONG), *ERR_001)

        assert_throttled(await sign_in(first, shopper.email), at_most=30)
        assert_throttled(await sign_in(second, shopper.email), at_most=30)


async def test_the_back_off_passes_doubles_and_is_capped(fast_backoff_server: Server) -> None:
    async with client_of(fast_backoff_server) as http:
        shopper = await sign_up(http)
        for _ in range(5):
            assert_error(await sign_in(http, shopper.email, WRONG), *ERR_001)
        assert_throttled(await sign_in(http, shopper.email), at_most=1)

        await asyncio.sleep(1.2)  # the first back-off (1 s) has passed
        assert_error(await sign_in(http, shopper.email, WRONG), *ERR_001)  # the 6th
        assert_throttled(await sign_in(http, shopper.email), at_most=2)
        await asyncio.sleep(1.2)
        assert_throttled(await sign_in(http, shopper.email), at_most=1)  # doubled: 2 s

        await asyncio.sleep(1.0)
        assert_error(await sign_in(http, shopper.email, WRONG), *ERR_001)  # the 7th
        assert_throttled(await sign_in(http, shopper.email), at_most=2)  # capped, not 4
        await asyncio.sleep(2.2)
        assert (await sign_in(http, shopper.email)).status_code == 200  # and reset
        assert_error(await sign_in(http, shopper.email, WRONG), *ERR_001)


# --- 14.2 the hashing bound ------------------------------------------------------------------


async def test_a_flood_of_sign_ins_is_refused_at_once_not_queued(
    short_deadline_server: Server,
) -> None:
    """300 sign-ins at once (distinct e-mails, so the per-account rule never answers first)
    against 2 workers whose requests may wait 10 s: the hashes that fit are checked (401), the
    rest refused at once (ERR_025); none waits into the deadline's 503. A legitimate sign-in
    right after succeeds."""
    async with client_of(short_deadline_server) as http:
        shopper = await sign_up(http)

        async def timed_sign_in() -> tuple[httpx.Response, float]:
            started = time.monotonic()
            response = await sign_in(http, new_email(), WRONG)
            return response, time.monotonic() - started

        started = time.monotonic()
        answers = await asyncio.gather(*(timed_sign_in() for _ in range(300)))
        flood_seconds = time.monotonic() - started
        after = await sign_in(http, shopper.email)

    statuses = Counter(response.status_code for response, _ in answers)
    refused = sorted(seconds for response, seconds in answers if response.status_code == 429)
    checked = sorted(seconds for response, seconds in answers if response.status_code == 401)
    print(
        f"\n{dict(statuses)} in {flood_seconds:.2f} s; ERR_025 median "
        f"{refused[len(refused) // 2] if refused else 0:.2f} s; 401 slowest "
        f"{checked[-1] if checked else 0:.2f} s"
    )
    assert statuses[401] + statuses[429] == 300, statuses
    assert statuses[401] > 0, statuses
    assert statuses[429] > 0, statuses
    for response, _ in answers:
        if response.status_code == 429:
            assert_throttled(response, at_most=3)
        else:
            assert_error(response, *ERR_001)
    assert after.status_code == 200, after.text


# --- 14.6 password change and sign-out everywhere --------------------------------------------


async def _earlier_tokens_are_all_refused(http: httpx.AsyncClient, pairs: list[Shopper]) -> None:
    for pair in pairs:
        assert_error(await http.get(ME, headers=bearer(pair.access_token)), *ERR_007)
        assert_error(await http.get(REFRESH, headers=bearer(pair.refresh_token)), *ERR_007)


async def _second_sign_in(http: httpx.AsyncClient, shopper: Shopper) -> Shopper:
    pair = (await sign_in(http, shopper.email)).json()
    return Shopper(http, shopper.id, shopper.email, pair["access_token"], pair["refresh_token"])


async def test_a_password_change_ends_every_earlier_token(http: httpx.AsyncClient) -> None:
    shopper = await sign_up(http)
    other_device = await _second_sign_in(http, shopper)
    path = "/api/users/me/password"
    new_password = "new-waffle-2"

    wrong = {"current_password": WRONG, "new_password": new_password}
    assert_error(await shopper.request("PUT", path, json=wrong), *ERR_001)
    too_short = {"current_password": PASSWORD, "new_password": "short"}
    assert_error(await shopper.request("PUT", path, json=too_short), *ERR_003)
    missing = {"current_password": PASSWORD}
    assert_error(await shopper.request("PUT", path, json=missing), *ERR_002)
    assert (await shopper.request("GET", ME)).status_code == 200  # nothing changed yet

    changed = await shopper.request(
        "PUT", path, json={"current_password": PASSWORD, "new_password": new_password}
    )

    assert changed.status_code == 200, changed.text
    assert set(changed.json()) == {"access_token", "refresh_token"}
    await _earlier_tokens_are_all_refused(http, [shopper, other_device])
    fresh = changed.json()
    assert (await http.get(ME, headers=bearer(fresh["access_token"]))).status_code == 200
    assert (await http.get(REFRESH, headers=bearer(fresh["refresh_token"]))).status_code == 200
    assert_error(await sign_in(http, shopper.email), *ERR_001)
    assert (await sign_in(http, shopper.email, new_password)).status_code == 200


async def test_sign_out_everywhere_ends_every_earlier_token(http: httpx.AsyncClient) -> None:
    shopper = await sign_up(http)
    other_device = await _second_sign_in(http, shopper)

    response = await shopper.request("DELETE", "/api/users/me/sessions")

    assert response.status_code == 204
    assert response.content == b""
    await _earlier_tokens_are_all_refused(http, [shopper, other_device])
    # Signed in within the same second after it: valid (a version, not a clock, decides).
    again = await _second_sign_in(http, shopper)
    assert (await again.request("GET", ME)).status_code == 200
    assert (await http.get(REFRESH, headers=bearer(again.refresh_token))).status_code == 200


async def test_sign_out_everywhere_needs_an_access_token(http: httpx.AsyncClient) -> None:
    shopper = await sign_up(http)
    path = "/api/users/me/sessions"
    assert_error(await http.delete(path, headers=bearer(shopper.refresh_token)), *ERR_007)
    assert (await shopper.request("GET", ME)).status_code == 200


# --- 14.6 refresh families and the session's age ---------------------------------------------


async def test_a_reused_refresh_token_revokes_its_sign_in(http: httpx.AsyncClient) -> None:
    shopper = await sign_up(http)
    other_device = await _second_sign_in(http, shopper)
    rotated = (await http.get(REFRESH, headers=bearer(shopper.refresh_token))).json()

    # The rotated token comes back (a thief, or the owner after the thief rotated it).
    assert_error(await http.get(REFRESH, headers=bearer(shopper.refresh_token)), *ERR_007)

    # Its successor is revoked with it: neither holder can go on refreshing.
    assert_error(await http.get(REFRESH, headers=bearer(rotated["refresh_token"])), *ERR_007)
    assert_error(
        await http.delete("/api/auth/tokens", headers=bearer(rotated["refresh_token"])), *ERR_007
    )
    # Access tokens are not revoked (contract §4): they run out within SHORT_SESSION_LIFESPAN.
    assert (await http.get(ME, headers=bearer(rotated["access_token"]))).status_code == 200
    # Another sign-in of the same user is not touched.
    assert (await http.get(REFRESH, headers=bearer(other_device.refresh_token))).status_code == 200


async def test_a_reuse_presented_many_times_at_once_is_refused_every_time(
    http: httpx.AsyncClient,
) -> None:
    shopper = await sign_up(http)
    rotated = (await http.get(REFRESH, headers=bearer(shopper.refresh_token))).json()

    reuses = await asyncio.gather(
        *(http.get(REFRESH, headers=bearer(shopper.refresh_token)) for _ in range(10))
    )

    for response in reuses:
        assert_error(response, *ERR_007)
    assert_error(await http.get(REFRESH, headers=bearer(rotated["refresh_token"])), *ERR_007)


async def test_sign_out_keeps_its_contract(http: httpx.AsyncClient) -> None:
    shopper = await sign_up(http)
    signed_out = await http.delete("/api/auth/tokens", headers=bearer(shopper.refresh_token))
    assert signed_out.status_code == 204
    assert_error(await http.get(REFRESH, headers=bearer(shopper.refresh_token)), *ERR_007)
    # §4: an access token already issued stays valid until it expires.
    assert (await shopper.request("GET", ME)).status_code == 200


async def test_refreshing_never_extends_a_session_past_its_max_age(
    short_session_server: Server,
) -> None:
    async with client_of(short_session_server) as http:
        shopper = await sign_up(http)
        secret = TEST_SECRETS["REFRESH_TOKEN_SECRET"]
        first = token_claims(shopper.refresh_token, secret)
        session_end = first["auth_time"] + 120
        assert first["exp"] == session_end  # 24 h asked, 2 min granted

        refresh_token = shopper.refresh_token
        for _ in range(3):
            await asyncio.sleep(1.1)
            response = await http.get(REFRESH, headers=bearer(refresh_token))
            assert response.status_code == 200, response.text
            refresh_token = response.json()["refresh_token"]
            claims = token_claims(refresh_token, secret)
            assert claims["exp"] == session_end
            assert claims["sid"] == first["sid"]
            access = token_claims(
                response.json()["access_token"], TEST_SECRETS["ACCESS_TOKEN_SECRET"]
            )
            assert access["exp"] <= session_end
