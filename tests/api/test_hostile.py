"""A hostile client against the real server: `wapang serve --workers 2`, over HTTP only.

Races fire real concurrent requests at two worker processes and check exact counts and the
final state; ids with trailing bytes, names that only a collation confuses, tokens with absurd
claims and oversized bodies each get their contract error. Every case runs on MariaDB (row
locks, collations) and on SQLite (one writer); the outage case needs MariaDB's network path.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import server_env
from tests.api.shop import (
    ERR_004,
    ERR_007,
    ERR_008,
    ERR_009,
    ERR_010,
    ERR_013,
    ERR_016,
    ERR_024,
    Shopper,
    assert_error,
    my_orders,
    open_shop,
    set_cart_line,
    sign_up,
    sign_up_many,
    stock_of,
    unique_phone,
)
from tests.api.test_outage import TcpProxy
from tests.databases import (
    TEST_SECRETS,
    mariadb_available,
    mariadb_database,
    mariadb_settings,
)
from tests.requirements import require
from tests.servers import LOOPBACK, Server, wapang_server
from wapang.db.migrate import upgrade


def _statuses(responses: list[httpx.Response]) -> Counter[int]:
    return Counter(response.status_code for response in responses)


def _store_body(**fields: Any) -> dict[str, Any]:
    return {
        "store_name": fields.get("store_name", f"가게{unique_phone()[-4:]}"),
        "address": "서울시 관악구",
        "email": fields.get("email", f"store-{unique_phone()}@example.com"),
        "phone_number": fields.get("phone_number", unique_phone()),
        "delivery_fee": 3000,
    }


# --- races -------------------------------------------------------------------------------------


async def test_one_cart_is_checked_out_once(http: httpx.AsyncClient) -> None:
    _, _, (waffle,) = await open_shop(http, ("와플", 1000, 50))
    (buyer,) = await sign_up_many(http, 1)
    assert (await set_cart_line(buyer, waffle["id"], 2)).status_code == 200

    responses = await asyncio.gather(
        *(buyer.request("POST", "/api/carts/checkout") for _ in range(5))
    )

    assert _statuses(responses) == {201: 1, 422: 4}
    for response in responses:
        if response.status_code == 422:
            assert_error(response, *ERR_024)
    assert await stock_of(http, waffle["id"]) == 48
    assert len(await my_orders(buyer)) == 1
    cart = (await buyer.request("GET", "/api/carts")).json()
    assert cart["details"] == []


async def test_one_owner_opening_ten_stores_at_once_gets_one(http: httpx.AsyncClient) -> None:
    (owner,) = await sign_up_many(http, 1)
    body = _store_body()

    responses = await asyncio.gather(
        *(owner.request("POST", "/api/stores", json=body) for _ in range(10))
    )

    assert _statuses(responses) == {201: 1, 409: 9}, [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert_error(response, *ERR_008)
    store_id = next(r.json()["id"] for r in responses if r.status_code == 201)
    assert (await http.get(f"/api/stores/{store_id}")).json()["store_name"] == body["store_name"]


async def test_ten_owners_racing_for_one_store_name(http: httpx.AsyncClient) -> None:
    owners = await sign_up_many(http, 10)
    name = f"경쟁{unique_phone()[-4:]}"

    responses = await asyncio.gather(
        *(o.request("POST", "/api/stores", json=_store_body(store_name=name)) for o in owners)
    )

    assert _statuses(responses) == {201: 1, 409: 9}, [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert_error(response, *ERR_009)


async def test_one_email_signed_up_ten_times_at_once(http: httpx.AsyncClient) -> None:
    body = {"email": f"race-{unique_phone()}@example.com", "password": "waffle-pass1"}

    responses = await asyncio.gather(*(http.post("/api/users", json=body) for _ in range(10)))

    assert _statuses(responses) == {201: 1, 409: 9}
    for response in responses:
        if response.status_code == 409:
            assert_error(response, *ERR_004)


async def test_concurrent_cart_updates_leave_one_line(http: httpx.AsyncClient) -> None:
    _, _, (waffle,) = await open_shop(http, ("와플", 1000, 50))
    (buyer,) = await sign_up_many(http, 1)
    quantities = list(range(1, 21))

    responses = await asyncio.gather(
        *(set_cart_line(buyer, waffle["id"], quantity) for quantity in quantities)
    )

    assert _statuses(responses) == {200: 20}, [r.text for r in responses if r.status_code != 200]
    cart = (await buyer.request("GET", "/api/carts")).json()
    (store,) = cart["details"]
    (line,) = store["items"]
    assert line["item_id"] == waffle["id"]
    assert line["quantity"] in quantities


async def test_one_review_per_writer_even_at_once(http: httpx.AsyncClient) -> None:
    _, _, (waffle,) = await open_shop(http, ("와플", 1000, 50))
    (writer,) = await sign_up_many(http, 1)
    await writer.set_nickname()
    body = {"rating": 5, "comment": "맛있어요"}
    path = f"/api/items/{waffle['id']}/reviews"

    responses = await asyncio.gather(*(writer.request("POST", path, json=body) for _ in range(8)))

    assert _statuses(responses) == {201: 1, 409: 7}
    for response in responses:
        if response.status_code == 409:
            assert_error(response, *ERR_016)
    assert len((await http.get(path)).json()) == 1


async def test_one_refresh_token_rotates_once(http: httpx.AsyncClient) -> None:
    (user,) = await sign_up_many(http, 1)

    responses = await asyncio.gather(
        *(http.get("/api/auth/tokens/refresh", headers=user.refresh_auth) for _ in range(8))
    )

    assert _statuses(responses) == {200: 1, 401: 7}
    for response in responses:
        if response.status_code == 401:
            assert_error(response, *ERR_007)


async def test_a_mixed_write_storm_gets_no_5xx_and_keeps_stock_exact(
    http: httpx.AsyncClient,
) -> None:
    """150 concurrent writes of every kind on shared rows: contract answers only, and the stock
    that left the shelf is exactly what the created orders hold."""
    _, _, items = await open_shop(http, ("와플", 1000, 40), ("크로플", 500, 40))
    buyers = await sign_up_many(http, 10)
    for buyer in buyers:
        await buyer.set_nickname()
    ids = [item["id"] for item in items]

    def storm(buyer: Shopper, round_: int) -> list[Any]:
        first, second = ids if round_ % 2 else ids[::-1]
        return [
            buyer.order((first, 1), (second, 2)),
            set_cart_line(buyer, first, round_ + 1),
            buyer.request("POST", "/api/carts/checkout"),
            buyer.request(
                "POST", f"/api/items/{first}/reviews", json={"rating": 4, "comment": "좋아요"}
            ),
            buyer.request("POST", "/api/stores", json=_store_body(store_name="폭풍상점")),
        ]

    requests = [call for round_ in range(3) for buyer in buyers for call in storm(buyer, round_)]
    responses = await asyncio.gather(*requests)

    assert len(responses) == 150
    failures = [(r.status_code, r.text) for r in responses if r.status_code >= 500]
    assert failures == []
    for response in responses:
        if response.status_code >= 400:
            assert set(response.json()) == {"error_code", "error_msg"}
    ordered = Counter[str]()
    for buyer in buyers:
        for summary in await my_orders(buyer):
            order = (await buyer.request("GET", f"/api/orders/{summary['order_id']}")).json()
            for store in order["details"]:
                for line in store["items"]:
                    ordered[line["item_id"]] += line["quantity"]
    for item_id in ids:
        assert await stock_of(http, item_id) == 40 - ordered[item_id]


# --- ids and names compared exactly --------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["%20", "%00", "%09"], ids=["space", "nul", "tab"])
async def test_an_id_with_trailing_bytes_names_nothing(
    http: httpx.AsyncClient, suffix: str
) -> None:
    seller, store, (waffle,) = await open_shop(http, ("와플", 1000, 5))
    store_id, item_id = store["id"], waffle["id"]

    assert_error(await http.get(f"/api/stores/{store_id}{suffix}"), *ERR_010)
    assert_error(await http.get(f"/api/stores/{store_id}{suffix}/items"), *ERR_010)
    assert_error(await http.get(f"/api/items?store_id={store_id}{suffix}"), *ERR_010)
    assert_error(await http.get(f"/api/items/{item_id}{suffix}/reviews"), *ERR_013)
    patched = await seller.request("PATCH", f"/api/items/{item_id}{suffix}", json={"price": 1})
    assert_error(patched, *ERR_013)
    assert (await http.get(f"/api/stores/{store_id}/items")).json()[0]["price"] == 1000


async def test_ids_in_bodies_and_in_other_case_name_nothing(http: httpx.AsyncClient) -> None:
    _, store, (waffle,) = await open_shop(http, ("와플", 1000, 5))
    (buyer,) = await sign_up_many(http, 1)

    assert_error(await set_cart_line(buyer, waffle["id"] + " ", 1), *ERR_013)
    assert_error(await set_cart_line(buyer, waffle["id"] + "\u0000", 1), *ERR_013)
    assert_error(await buyer.order((waffle["id"] + " ", 1)), *ERR_013)
    assert_error(await http.get(f"/api/stores/{store['id'].upper()}"), *ERR_010)
    assert await stock_of(http, waffle["id"]) == 5


@pytest.mark.parametrize(
    ("first", "second", "duplicate"),
    [
        ("🍕🍕🍕x", "🍔🍔🍔x", False),
        ("가게하나", "가게두울", False),
        ("카페é", "카페e", False),
        ("Waffle Hut", "waffle hut", True),
        ("WAFFLE", "waffle", True),
        ("같은가게", "같은가게", True),
    ],
    ids=["emoji", "korean", "accent", "case", "upper", "same"],
)
async def test_store_names_are_duplicates_only_when_they_read_the_same(
    http: httpx.AsyncClient, first: str, second: str, duplicate: bool
) -> None:
    tag = unique_phone()[-4:]
    owners = await sign_up_many(http, 2)
    made = await owners[0].request("POST", "/api/stores", json=_store_body(store_name=first + tag))
    assert made.status_code == 201, made.text

    other = await owners[1].request(
        "POST", "/api/stores", json=_store_body(store_name=second + tag)
    )

    if duplicate:
        assert_error(other, *ERR_009)
    else:
        assert other.status_code == 201, other.text


# --- tokens ------------------------------------------------------------------------------------


@pytest.mark.parametrize("exp", [10**30, 2**63, 1_000_000_000_000, "2000000000", 1e300], ids=str)
async def test_a_signed_token_with_an_absurd_expiry_is_invalid(
    http: httpx.AsyncClient, exp: object
) -> None:
    import jwt

    (user,) = await sign_up_many(http, 1)
    for kind, path, method in [
        ("ACCESS_TOKEN_SECRET", "/api/users/me", "GET"),
        ("REFRESH_TOKEN_SECRET", "/api/auth/tokens/refresh", "GET"),
        ("REFRESH_TOKEN_SECRET", "/api/auth/tokens", "DELETE"),
    ]:
        typ = "access" if kind.startswith("ACCESS") else "refresh"
        token = jwt.encode({"sub": user.id, "exp": exp, "typ": typ, "jti": "x"}, TEST_SECRETS[kind])
        response = await http.request(method, path, headers={"Authorization": f"Bearer {token}"})
        assert_error(response, *ERR_007)


# --- request size --------------------------------------------------------------------------------


def _raw_exchange(server: Server, head: bytes, body: bytes = b"", timeout: float = 5) -> bytes:
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as connection:
        connection.sendall(head + body)
        received = b""
        try:
            while b"\r\n\r\n" not in received or not received.rstrip().endswith(b"}"):
                chunk = connection.recv(65536)
                if not chunk:
                    break
                received += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    return received


async def test_a_declared_huge_body_is_413_at_once(server: Server) -> None:
    head = (
        b"POST /api/users HTTP/1.1\r\nHost: wapang\r\nContent-Type: application/json\r\n"
        b"Content-Length: 104857600\r\n\r\n"
    )
    started = time.monotonic()

    answer = await asyncio.to_thread(_raw_exchange, server, head, b'{"email": "a@b.co"' + b" " * 54)

    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert answer.endswith(b'{"error_code":"ERR_413","error_msg":"PAYLOAD TOO LARGE"}')
    assert time.monotonic() - started < 3
    assert b"\r\nx-content-type-options: nosniff\r\n" in answer.lower()  # contract 14.7
    assert b"\r\nx-request-id: " in answer.lower()


async def test_a_chunked_body_over_the_limit_is_413(server: Server) -> None:
    head = (
        b"POST /api/users HTTP/1.1\r\nHost: wapang\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b" " * 65536
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(40))  # 2.5 MiB

    answer = await asyncio.to_thread(
        _raw_exchange, server, head, b'10\r\n{"email":"a@b.c"\r\n' + body
    )

    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"ERR_413"' in answer


async def test_a_body_under_the_limit_is_read(http: httpx.AsyncClient) -> None:
    padding = "x" * 900_000  # unknown keys are ignored (contract §1.5)
    body = {
        "email": f"big-{unique_phone()}@example.com",
        "password": "waffle-pass1",
        "pad": padding,
    }

    response = await http.post("/api/users", json=body)

    assert response.status_code == 201, response.text[:200]


# --- the database coming back ---------------------------------------------------------


@pytest.mark.mariadb
async def test_no_503_once_the_database_is_back(tmp_path: Path) -> None:
    """The app's connections are cut and restored 0.5 s later: the pooled connections that
    died are replaced and their statements retried, so no request after that fails."""
    require(mariadb_available(), "MariaDB on 127.0.0.1:3306")
    proxy = TcpProxy()
    await proxy.start()
    with mariadb_database() as name:
        await asyncio.to_thread(upgrade, mariadb_settings(name))
        env = server_env("mariadb", tmp_path, name, DB_HOST=LOOPBACK, DB_PORT=proxy.port)
        with wapang_server(tmp_path, "--workers", "2", **env) as running:
            async with httpx.AsyncClient(base_url=running.base_url, timeout=15) as client:
                shopper = await sign_up(client)
                # Warm every pool of both workers, so each holds connections that will die.
                warm = [shopper.request("GET", "/api/users/me") for _ in range(40)]
                assert _statuses(await asyncio.gather(*warm)) == {200: 40}

                await proxy.cut()
                await asyncio.sleep(0.5)
                await proxy.start()

                answers = []
                for index in range(48):
                    if index % 3 == 0:
                        answers.append(await client.post("/api/users", json=_user_body()))
                    elif index % 3 == 1:
                        answers.append(await shopper.request("GET", "/api/users/me"))
                    else:
                        answers.append(await client.get("/api/items"))
            await proxy.cut()
    assert [r.status_code for r in answers if r.status_code >= 500] == []


def _user_body() -> dict[str, str]:
    return {"email": f"back-{unique_phone()}@example.com", "password": "waffle-pass1"}
