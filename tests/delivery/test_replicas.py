"""Two app replicas on one MariaDB behind one nginx: what one replica does to a session, the other
knows at once, exactly as with one replica. Nothing a replica needs lives in another's memory
(deploy/SCALING.md lists each per-process cache and why it is safe).

The replicas are two `wapang serve` processes; nginx is the production template with both in its
upstream, which is what `app:8000` resolving to two containers of a scaled service gives it.
"""

from __future__ import annotations

import asyncio
import ssl
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from harness.processes import LOOPBACK
from tests.api.shop import ERR_007, PASSWORD, assert_error
from tests.databases import (
    MARIADB_HOST,
    MARIADB_PASSWORD,
    MARIADB_PORT,
    MARIADB_USER,
    mariadb_available,
    mariadb_database,
    mariadb_settings,
)
from tests.requirements import require_available
from wapang.db.migrate import upgrade
from wapang.delivery.pki import issue, make_authority

from .conftest import SITE, App, EdgeStarter, start_app

pytestmark = pytest.mark.mariadb

SIGN_IN = "/api/auth/tokens"
REFRESH = "/api/auth/tokens/refresh"


@pytest.fixture(scope="module")
def replicas(delivery_root: Path) -> Iterator[tuple[App, App]]:
    require_available(mariadb_available(), "MariaDB on 127.0.0.1:3306")
    with mariadb_database() as database:
        upgrade(mariadb_settings(database))  # once, as the migrate job does before pods serve
        env = {
            "DB_DIALECT": "mysql",
            "DB_HOST": MARIADB_HOST,
            "DB_PORT": str(MARIADB_PORT),
            "DB_USER": MARIADB_USER,
            "DB_PASSWORD": MARIADB_PASSWORD,
            "DB_DATABASE": database,
        }
        apps = (
            start_app(delivery_root, "replica-a", **env),
            start_app(delivery_root, "replica-b", **env),
        )
        try:
            yield apps
        finally:
            for app in apps:
                app.service.stop()


@dataclass
class Clients:
    a: httpx.AsyncClient
    b: httpx.AsyncClient
    edge: httpx.AsyncClient  # nginx with TLS, both replicas in its upstream


@pytest.fixture
async def clients(
    replicas: tuple[App, App], start_edge: EdgeStarter, tmp_path: Path
) -> AsyncIterator[Clients]:
    authority = make_authority("wapang replicas test CA")
    first, second = replicas
    edge = start_edge(
        issue(authority, [SITE], tmp_path / "tls"), first.port, replica_ports=[second.port]
    )
    trust = ssl.create_default_context(cafile=authority.write(tmp_path / "ca.pem"))
    # Fresh connections each time, so nginx's round robin is not pinned by a kept-alive one.
    limits = httpx.Limits(max_keepalive_connections=0)
    async with (
        httpx.AsyncClient(base_url=f"http://{LOOPBACK}:{first.port}", timeout=30) as a,
        httpx.AsyncClient(base_url=f"http://{LOOPBACK}:{second.port}", timeout=30) as b,
        httpx.AsyncClient(
            base_url=f"https://{LOOPBACK}:{edge.https_port}",
            headers={"Host": SITE},
            event_hooks={"request": [name_the_site]},
            verify=trust,
            limits=limits,
            timeout=30,
        ) as through_edge,
    ):
        yield Clients(a, b, through_edge)


async def name_the_site(request: httpx.Request) -> None:
    """TLS to the loopback address, with the site's name in SNI (what DNS would give)."""
    request.extensions["sni_hostname"] = SITE


async def sign_up_and_in(http: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    email = f"replica-{uuid.uuid4().hex[:10]}@example.com"
    created = await http.post("/api/users", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    tokens = await http.post(SIGN_IN, json={"email": email, "password": PASSWORD})
    assert tokens.status_code == 200, tokens.text
    return created.json()["id"], tokens.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def me(http: httpx.AsyncClient, access_token: str) -> httpx.Response:
    return await http.get("/api/users/me", headers=bearer(access_token))


async def test_a_session_begun_on_one_replica_is_refreshed_and_ended_on_the_other(
    clients: Clients,
) -> None:
    user_id, tokens = await sign_up_and_in(clients.a)
    # Each replica has checked the refresh token's signature once (its memo holds it now).
    for replica in (clients.a, clients.b):
        assert (await me(replica, tokens["access_token"])).json()["id"] == user_id

    rotated = await clients.b.get(REFRESH, headers=bearer(tokens["refresh_token"]))
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()
    assert (await me(clients.a, new["access_token"])).json()["id"] == user_id
    # The rotated-away token is blocklisted for A too, though A issued it; presented again, it
    # revokes its sign-in (contract 14.6) for both replicas: the successor B issued is refused.
    assert_error(await clients.a.get(REFRESH, headers=bearer(tokens["refresh_token"])), *ERR_007)
    for replica in (clients.a, clients.b):
        assert_error(await replica.get(REFRESH, headers=bearer(new["refresh_token"])), *ERR_007)

    _, tokens = await sign_up_and_in(clients.a)
    signed_out = await clients.b.delete(SIGN_IN, headers=bearer(tokens["refresh_token"]))
    assert signed_out.status_code == 204, signed_out.text
    for replica in (clients.a, clients.b):
        assert_error(await replica.get(REFRESH, headers=bearer(tokens["refresh_token"])), *ERR_007)
        assert_error(
            await replica.delete(SIGN_IN, headers=bearer(tokens["refresh_token"])), *ERR_007
        )


async def test_concurrent_refreshes_of_one_token_on_both_replicas_have_one_winner(
    clients: Clients,
) -> None:
    _, tokens = await sign_up_and_in(clients.a)
    refresh = bearer(tokens["refresh_token"])
    attempts = [clients.a, clients.b] * 6
    responses = await asyncio.gather(
        *(replica.get(REFRESH, headers=refresh) for replica in attempts)
    )
    statuses = Counter(response.status_code for response in responses)
    assert statuses == {200: 1, 401: 11}, statuses
    for response in responses:
        if response.status_code == 401:
            assert_error(response, *ERR_007)
    # A loser that arrived after the winner's commit presented a rotated token: a reuse, which
    # revokes the sign-in (contract 14.6); one that raced it lost on the blocklist's key. So the
    # winner's successor is refused or honoured, never an error of another kind.
    winner = next(response.json() for response in responses if response.status_code == 200)
    successor = await clients.b.get(REFRESH, headers=bearer(winner["refresh_token"]))
    if successor.status_code != 200:
        assert_error(successor, *ERR_007)


async def test_through_nginx_both_replicas_serve_one_session_as_if_they_were_one(
    clients: Clients, replicas: tuple[App, App]
) -> None:
    served_before = [requests_served(app) for app in replicas]
    for _ in range(6):
        user_id, tokens = await sign_up_and_in(clients.edge)
        for _ in range(3):
            assert (await me(clients.edge, tokens["access_token"])).json()["id"] == user_id
            rotated = await clients.edge.get(REFRESH, headers=bearer(tokens["refresh_token"]))
            assert rotated.status_code == 200, rotated.text
            rotated_away, tokens = tokens, rotated.json()
        assert (
            await clients.edge.delete(SIGN_IN, headers=bearer(tokens["refresh_token"]))
        ).status_code == 204
        assert_error(
            await clients.edge.get(REFRESH, headers=bearer(tokens["refresh_token"])), *ERR_007
        )
        assert_error(
            await clients.edge.get(REFRESH, headers=bearer(rotated_away["refresh_token"])),
            *ERR_007,
        )
    # 6 × (2 + 3 × 2 + 3) = 66 requests went through nginx, spread over both replicas.
    served = [
        requests_served(app) - before for app, before in zip(replicas, served_before, strict=True)
    ]
    assert sum(served) == 66, served
    assert min(served) >= 20, f"nginx did not spread the requests over both replicas: {served}"


def requests_served(app: App) -> int:
    """Requests in the replica's log (the app's request line, one per answered request)."""
    log = app.service.log.read_text(errors="replace")
    return sum(1 for line in log.splitlines() if " wapang.request [" in line)
