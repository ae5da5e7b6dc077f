"""Contract 14.4 and 14.5 over HTTP on `wapang serve --workers 2`, SQLite and MariaDB: an
`Idempotency-Key` makes an order happen once however often (and however concurrently) it is
sent, a replay is the first answer byte for byte, and an order is refused when its total is not
the one the buyer saw. Plus the merged-quantity overflow (review finding 14)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest

from tests.api.shop import (
    ERR_003,
    ERR_017,
    assert_error,
    my_orders,
    open_shop,
    set_cart_line,
    sign_up,
    stock_of,
)

INT32_MAX = 2**31 - 1
ERR_026 = (422, "ERR_026", "IDEMPOTENCY KEY REUSED")
ERR_027 = (409, "ERR_027", "REQUEST IN PROGRESS")
ERR_028 = (409, "ERR_028", "PRICE CHANGED")


def _order_body(item_id: str, quantity: int, **extra: Any) -> dict[str, Any]:
    return {"items": [{"item_id": item_id, "quantity": quantity}], **extra}


def _keyed(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


@pytest.mark.parametrize("path", ["/api/orders", "/api/carts/checkout"])
async def test_one_key_sent_20_times_at_once_orders_once(
    http: httpx.AsyncClient, path: str
) -> None:
    _, _, (waffle,) = await open_shop(http, ("와플", 1000, 100))
    buyer = await sign_up(http)
    assert (await set_cart_line(buyer, waffle["id"], 3)).status_code == 200
    body = _order_body(waffle["id"], 3) if path == "/api/orders" else None

    responses = await asyncio.gather(
        *(buyer.request("POST", path, json=body, headers=_keyed("twenty")) for _ in range(20))
    )

    first = [
        r for r in responses if r.status_code == 201 and "Idempotent-Replayed" not in r.headers
    ]
    replays = [r for r in responses if r.headers.get("Idempotent-Replayed") == "true"]
    in_progress = [r for r in responses if r.status_code == 409]
    assert len(first) == 1, [(r.status_code, r.text) for r in responses]
    assert len(first) + len(replays) + len(in_progress) == 20
    for response in replays:
        assert response.status_code == 201
        assert response.content == first[0].content
    for response in in_progress:
        assert_error(response, *ERR_027)
    orders = await my_orders(buyer)
    assert [order["order_id"] for order in orders] == [first[0].json()["order_id"]]
    assert await stock_of(http, waffle["id"]) == 97
    again = await buyer.request("POST", path, json=body, headers=_keyed("twenty"))
    assert again.content == first[0].content
    assert again.headers["Idempotent-Replayed"] == "true"


async def test_a_replay_is_the_first_answer_byte_for_byte_and_changes_nothing(
    http: httpx.AsyncClient,
) -> None:
    seller, _, (waffle,) = await open_shop(http, ("와플", 1000, 10))
    buyer = await sign_up(http)
    body = _order_body(waffle["id"], 2)
    created = await buyer.request("POST", "/api/orders", json=body, headers=_keyed("k-1"))
    assert created.status_code == 201
    assert "Idempotent-Replayed" not in created.headers
    # Later changes to the item do not change the stored answer.
    patched = await seller.request("PATCH", f"/api/items/{waffle['id']}", json={"price": 5})
    assert patched.status_code == 200

    replayed = await buyer.request(
        "POST",
        "/api/orders",
        content=_spaced(body),
        headers={**_keyed("k-1"), "Content-Type": "application/json"},
    )

    assert replayed.status_code == 201
    assert replayed.content == created.content
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.headers["Content-Type"] == "application/json"
    assert len(await my_orders(buyer)) == 1
    assert await stock_of(http, waffle["id"]) == 8
    # The key is the user's own: another user's request with it is a request of its own.
    other = await sign_up(http)
    theirs = await other.request("POST", "/api/orders", json=body, headers=_keyed("k-1"))
    assert theirs.status_code == 201
    assert theirs.json()["order_id"] != created.json()["order_id"]


def _spaced(body: dict[str, Any]) -> bytes:
    import json

    return json.dumps(body, indent=4).encode()


async def test_the_same_key_with_another_request_is_err_026(http: httpx.AsyncClient) -> None:
    _, _, (waffle, croffle) = await open_shop(http, ("와플", 1000, 10), ("크로플", 500, 10))
    buyer = await sign_up(http)
    assert (await set_cart_line(buyer, croffle["id"], 1)).status_code == 200
    first = await buyer.request(
        "POST", "/api/orders", json=_order_body(waffle["id"], 1), headers=_keyed("same")
    )
    assert first.status_code == 201

    other_body = await buyer.request(
        "POST", "/api/orders", json=_order_body(waffle["id"], 2), headers=_keyed("same")
    )
    other_route = await buyer.request("POST", "/api/carts/checkout", headers=_keyed("same"))

    assert_error(other_body, *ERR_026)
    assert_error(other_route, *ERR_026)
    assert len(await my_orders(buyer)) == 1
    assert await stock_of(http, waffle["id"]) == 9
    assert await stock_of(http, croffle["id"]) == 10


async def test_a_request_that_failed_stored_nothing_and_is_processed_again(
    http: httpx.AsyncClient,
) -> None:
    seller, _, (waffle,) = await open_shop(http, ("와플", 1000, 1))
    buyer = await sign_up(http)
    body = _order_body(waffle["id"], 2)
    assert_error(
        await buyer.request("POST", "/api/orders", json=body, headers=_keyed("r")), *ERR_017
    )
    assert (
        await seller.request("PATCH", f"/api/items/{waffle['id']}", json={"stock": 5})
    ).status_code == 200

    retried = await buyer.request("POST", "/api/orders", json=body, headers=_keyed("r"))

    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers
    assert await stock_of(http, waffle["id"]) == 3


@pytest.mark.parametrize("key", [b"", b"x" * 256, b"caf\xc3\xa9", b"tab\there", b"\xff"], ids=str)
async def test_a_malformed_key_is_err_003(http: httpx.AsyncClient, key: bytes) -> None:
    _, _, (waffle,) = await open_shop(http, ("와플", 1000, 5))
    buyer = await sign_up(http)
    headers = [(b"Idempotency-Key", key), (b"Authorization", buyer.auth["Authorization"].encode())]

    for path, body in [("/api/orders", _order_body(waffle["id"], 1)), ("/api/carts/checkout", {})]:
        response = await http.post(path, json=body, headers=headers)
        assert_error(response, *ERR_003)
    assert await stock_of(http, waffle["id"]) == 5


async def test_the_longest_and_oddest_printable_keys_work(http: httpx.AsyncClient) -> None:
    _, _, (waffle,) = await open_shop(http, ("와플", 1000, 5))
    buyer = await sign_up(http)
    for key in ["x" * 255, "a' for key 'PRIMARY", "~!@#$%^&*()_+{}|:<>?"]:
        body = _order_body(waffle["id"], 1)
        first = await buyer.request("POST", "/api/orders", json=body, headers=_keyed(key))
        again = await buyer.request("POST", "/api/orders", json=body, headers=_keyed(key))
        assert first.status_code == 201, first.text
        assert again.content == first.content
    assert await stock_of(http, waffle["id"]) == 2


# --- 14.5: the price the buyer saw ----------------------------------------------------------


async def test_checkout_at_a_price_raised_since_the_cart_was_shown_is_err_028(
    http: httpx.AsyncClient,
) -> None:
    """The review's repro: the cart showed 2100, the seller set the price to 2^31-1."""
    seller, _, (waffle,) = await open_shop(http, ("와플", 1000, 10), delivery_fee=100)
    buyer = await sign_up(http)
    assert (await set_cart_line(buyer, waffle["id"], 2)).status_code == 200
    shown = (await buyer.request("GET", "/api/carts")).json()
    assert shown["total_price"] == 2100
    raised = await seller.request("PATCH", f"/api/items/{waffle['id']}", json={"price": INT32_MAX})
    assert raised.status_code == 200

    response = await buyer.request(
        "POST", "/api/carts/checkout", json={"expected_total_price": 2100}
    )

    assert_error(response, *ERR_028)
    cart = (await buyer.request("GET", "/api/carts")).json()
    assert [line["quantity"] for group in cart["details"] for line in group["items"]] == [2]
    assert await stock_of(http, waffle["id"]) == 10
    assert await my_orders(buyer) == []


async def test_an_order_at_the_price_shown_is_placed(http: httpx.AsyncClient) -> None:
    _, _, (waffle,) = await open_shop(http, ("와플", 1000, 10), delivery_fee=100)
    buyer = await sign_up(http)
    assert (await set_cart_line(buyer, waffle["id"], 2)).status_code == 200

    wrong = await buyer.order((waffle["id"], 1), expected_total_price=2099)
    right = await buyer.order((waffle["id"], 1), expected_total_price=1100)
    checkout = await buyer.request(
        "POST", "/api/carts/checkout", json={"expected_total_price": 2100, "unknown": 1}
    )

    assert_error(wrong, *ERR_028)
    assert right.status_code == 201
    assert right.json()["total_price"] == 1100
    assert checkout.status_code == 201
    assert checkout.json()["total_price"] == 2100
    assert await stock_of(http, waffle["id"]) == 7


@pytest.mark.parametrize("value", [None, "2100", 2100.5, -1, 2**63, [2100]], ids=str)
async def test_a_malformed_expected_total_is_err_003(http: httpx.AsyncClient, value: Any) -> None:
    _, _, (waffle,) = await open_shop(http, ("와플", 1000, 10))
    buyer = await sign_up(http)
    assert (await set_cart_line(buyer, waffle["id"], 1)).status_code == 200

    ordered = await buyer.request(
        "POST", "/api/orders", json=_order_body(waffle["id"], 1, expected_total_price=value)
    )
    checked_out = await buyer.request(
        "POST", "/api/carts/checkout", json={"expected_total_price": value}
    )

    assert_error(ordered, *ERR_003)
    assert_error(checked_out, *ERR_003)
    assert await stock_of(http, waffle["id"]) == 10


async def test_a_missing_field_still_wins_over_a_null_expected_total(
    http: httpx.AsyncClient,
) -> None:
    buyer = await sign_up(http)
    body = {"items": [{"item_id": "x"}], "expected_total_price": None}
    response = await buyer.request("POST", "/api/orders", json=body)
    assert response.status_code == 400
    assert response.json()["error_code"] == "ERR_002"


# --- review finding 14: merged quantities beyond 32 bits ------------------------------------


async def test_two_lines_of_one_item_beyond_32_bits_are_err_017(
    http: httpx.AsyncClient,
) -> None:
    _, _, (waffle,) = await open_shop(http, ("와플", 1, INT32_MAX))
    buyer = await sign_up(http)

    response = await buyer.order((waffle["id"], INT32_MAX), (waffle["id"], INT32_MAX))

    assert_error(response, *ERR_017)
    assert await stock_of(http, waffle["id"]) == INT32_MAX
    assert await my_orders(buyer) == []


async def test_statuses_of_a_storm_of_keys(http: httpx.AsyncClient) -> None:
    """Ten keys, each sent three times at once, on one item: ten orders, stock exact."""
    _, _, (waffle,) = await open_shop(http, ("와플", 1000, 100))
    buyer = await sign_up(http)
    sends = [
        buyer.request(
            "POST", "/api/orders", json=_order_body(waffle["id"], 1), headers=_keyed(f"k{n}")
        )
        for n in range(10)
        for _ in range(3)
    ]
    responses = await asyncio.gather(*sends)

    assert {r.status_code for r in responses} <= {201, 409}
    fresh = Counter(
        r.json()["order_id"]
        for r in responses
        if r.status_code == 201 and "Idempotent-Replayed" not in r.headers
    )
    assert len(fresh) == 10
    assert len(await my_orders(buyer)) == 10
    assert await stock_of(http, waffle["id"]) == 90
