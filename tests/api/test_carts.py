"""Carts (contract §12, §3.2, §3.3)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.shop import (
    ERR_003,
    ERR_013,
    Shopper,
    assert_error,
    missing_id,
    my_orders,
    open_shop,
    set_cart_line,
    sign_up,
    stock_of,
)

EMPTY_CART = {"details": [], "total_price": 0}


def line(item: dict[str, Any], quantity: int) -> dict[str, Any]:
    return {
        "item_id": item["id"],
        "item_name": item["item_name"],
        "price": item["price"],
        "quantity": quantity,
        "subtotal": item["price"] * quantity,
    }


def item_ids(cart: dict[str, Any]) -> list[str]:
    return [line["item_id"] for group in cart["details"] for line in group["items"]]


async def cart_of(shopper: Shopper) -> dict[str, Any]:
    response = await shopper.request("GET", "/api/carts")
    assert response.status_code == 200, response.text
    cart: dict[str, Any] = response.json()
    return cart


async def put(shopper: Shopper, item_id: str, quantity: int) -> dict[str, Any]:
    response = await set_cart_line(shopper, item_id, quantity)
    assert response.status_code == 200, response.text
    cart: dict[str, Any] = response.json()
    return cart


@pytest.fixture
async def shop(client: httpx.AsyncClient) -> dict[str, Any]:
    """Store A (fee 3000): 와플 10000 ×5, 크로플 4000 ×5; store B (fee 2500): 빙수 15000 ×5."""
    seller_a, store_a, (waffle, croffle) = await open_shop(
        client, ("와플", 10000, 5), ("크로플", 4000, 5), delivery_fee=3000
    )
    seller_b, store_b, (bingsu,) = await open_shop(client, ("빙수", 15000, 5), delivery_fee=2500)
    return {
        "seller_a": seller_a,
        "store_a": store_a,
        "waffle": waffle,
        "croffle": croffle,
        "seller_b": seller_b,
        "store_b": store_b,
        "bingsu": bingsu,
    }


# -- GET /api/carts -------------------------------------------------------------------------


async def test_untouched_cart_is_empty(client: httpx.AsyncClient) -> None:
    shopper = await sign_up(client)

    assert await cart_of(shopper) == EMPTY_CART


async def test_cart_is_priced_per_store(client: httpx.AsyncClient, shop: dict[str, Any]) -> None:
    shopper = await sign_up(client)
    await put(shopper, shop["waffle"]["id"], 2)
    await put(shopper, shop["bingsu"]["id"], 1)

    cart = await put(shopper, shop["croffle"]["id"], 1)

    assert cart == {
        "details": [
            {
                "store_id": shop["store_a"]["id"],
                "store_name": shop["store_a"]["store_name"],
                "delivery_fee": 3000,
                "store_total_price": 20000 + 4000 + 3000,
                "items": [line(shop["waffle"], 2), line(shop["croffle"], 1)],
            },
            {
                "store_id": shop["store_b"]["id"],
                "store_name": shop["store_b"]["store_name"],
                "delivery_fee": 2500,
                "store_total_price": 17500,
                "items": [line(shop["bingsu"], 1)],
            },
        ],
        "total_price": 27000 + 17500,
    }
    assert await cart_of(shopper) == cart


async def test_cart_is_priced_live(client: httpx.AsyncClient, shop: dict[str, Any]) -> None:
    shopper = await sign_up(client)
    await put(shopper, shop["waffle"]["id"], 2)
    seller = shop["seller_a"]
    await seller.request(
        "PATCH", f"/api/items/{shop['waffle']['id']}", json={"price": 500, "item_name": "새 와플"}
    )
    await seller.request(
        "PATCH",
        f"/api/stores/{shop['store_a']['id']}",
        json={"delivery_fee": 100, "store_name": "새 상점"},
    )

    cart = await cart_of(shopper)

    group = cart["details"][0]
    assert (group["store_name"], group["delivery_fee"], group["store_total_price"]) == (
        "새 상점",
        100,
        1100,
    )
    assert group["items"] == [
        {**line(shop["waffle"], 2), "item_name": "새 와플", "price": 500, "subtotal": 1000}
    ]
    assert cart["total_price"] == 1100


# -- PATCH /api/carts -----------------------------------------------------------------------


async def test_set_line_replaces_the_quantity(
    client: httpx.AsyncClient, shop: dict[str, Any]
) -> None:
    shopper = await sign_up(client)
    await put(shopper, shop["waffle"]["id"], 2)

    cart = await put(shopper, shop["waffle"]["id"], 3)

    assert cart["details"][0]["items"] == [line(shop["waffle"], 3)]
    assert cart["total_price"] == 33000


async def test_quantity_change_keeps_the_line_in_place(
    client: httpx.AsyncClient, shop: dict[str, Any]
) -> None:
    shopper = await sign_up(client)
    for item in ("bingsu", "waffle", "croffle"):
        await put(shopper, shop[item]["id"], 1)

    cart = await put(shopper, shop["bingsu"]["id"], 4)

    expected = [shop["bingsu"]["id"], shop["waffle"]["id"], shop["croffle"]["id"]]
    assert item_ids(cart) == expected
    assert [group["store_id"] for group in cart["details"]] == [
        shop["store_b"]["id"],
        shop["store_a"]["id"],
    ]


async def test_removed_and_readded_line_moves_to_the_end(
    client: httpx.AsyncClient, shop: dict[str, Any]
) -> None:
    shopper = await sign_up(client)
    for item in ("bingsu", "waffle", "croffle"):
        await put(shopper, shop[item]["id"], 1)

    await put(shopper, shop["bingsu"]["id"], 0)
    cart = await put(shopper, shop["bingsu"]["id"], 2)

    assert item_ids(cart) == [shop["waffle"]["id"], shop["croffle"]["id"], shop["bingsu"]["id"]]
    assert [group["store_id"] for group in cart["details"]] == [
        shop["store_a"]["id"],
        shop["store_b"]["id"],
    ]


async def test_quantity_zero_removes_the_line(
    client: httpx.AsyncClient, shop: dict[str, Any]
) -> None:
    shopper = await sign_up(client)
    await put(shopper, shop["waffle"]["id"], 2)
    await put(shopper, shop["bingsu"]["id"], 1)

    cart = await put(shopper, shop["waffle"]["id"], 0)

    assert item_ids(cart) == [shop["bingsu"]["id"]]
    assert cart["total_price"] == 17500
    assert await put(shopper, shop["bingsu"]["id"], 0) == EMPTY_CART


async def test_quantity_zero_for_an_absent_line_changes_nothing(
    client: httpx.AsyncClient, shop: dict[str, Any]
) -> None:
    shopper = await sign_up(client)
    assert await put(shopper, shop["waffle"]["id"], 0) == EMPTY_CART
    before = await put(shopper, shop["bingsu"]["id"], 1)

    assert await put(shopper, shop["waffle"]["id"], 0) == before


async def test_stock_is_not_checked_when_filling_the_cart(
    client: httpx.AsyncClient, shop: dict[str, Any]
) -> None:
    shopper = await sign_up(client)

    cart = await put(shopper, shop["waffle"]["id"], 1000)

    assert cart["details"][0]["items"] == [line(shop["waffle"], 1000)]
    assert await stock_of(client, shop["waffle"]["id"]) == 5


async def test_carts_belong_to_their_owner(client: httpx.AsyncClient, shop: dict[str, Any]) -> None:
    mine, theirs = await sign_up(client), await sign_up(client)
    await put(mine, shop["waffle"]["id"], 1)
    await put(theirs, shop["waffle"]["id"], 3)

    assert (await cart_of(mine))["details"][0]["items"] == [line(shop["waffle"], 1)]
    assert (await cart_of(theirs))["details"][0]["items"] == [line(shop["waffle"], 3)]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(None, id="no-body"),
        pytest.param({"quantity": 1}, id="no-item-id"),
        pytest.param({"item_id": "x"}, id="no-quantity"),
        pytest.param({"item_id": 5}, id="missing-beats-malformed"),
    ],
)
async def test_set_line_missing_field_is_err_002(
    client: httpx.AsyncClient, body: dict[str, Any] | None
) -> None:
    shopper = await sign_up(client)

    response = await shopper.request("PATCH", "/api/carts", json=body)

    assert_error(response, 400, "ERR_002", "MISSING REQUIRED FIELDS")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("quantity", -1),
        ("quantity", 1.5),
        ("quantity", "2"),
        ("quantity", True),
        ("quantity", 10**30),
        ("quantity", None),
        ("item_id", None),
        ("item_id", 12),
        ("item_id", ["x"]),
    ],
)
async def test_set_line_bad_field_is_err_003(
    client: httpx.AsyncClient, shop: dict[str, Any], field: str, value: object
) -> None:
    shopper = await sign_up(client)
    body = {"item_id": shop["waffle"]["id"], "quantity": 1, field: value}

    assert_error(await shopper.request("PATCH", "/api/carts", json=body), *ERR_003)

    assert await cart_of(shopper) == EMPTY_CART


@pytest.mark.parametrize("quantity", [0, 1])
async def test_set_line_needs_a_live_item_err_013(
    client: httpx.AsyncClient, shop: dict[str, Any], quantity: int
) -> None:
    shopper = await sign_up(client)
    seller = shop["seller_a"]
    assert (
        await seller.request("DELETE", f"/api/items/{shop['croffle']['id']}")
    ).status_code == 204

    for item_id in (missing_id(), "not-a-uuid", shop["croffle"]["id"]):
        assert_error(await set_cart_line(shopper, item_id, quantity), *ERR_013)
    assert_error(await set_cart_line(shopper, missing_id(), -1), *ERR_003)
    assert await cart_of(shopper) == EMPTY_CART


async def test_deleted_item_leaves_every_cart(
    client: httpx.AsyncClient, shop: dict[str, Any]
) -> None:
    shopper = await sign_up(client)
    await put(shopper, shop["waffle"]["id"], 2)
    await put(shopper, shop["bingsu"]["id"], 1)
    await put(shopper, shop["croffle"]["id"], 1)
    seller = shop["seller_a"]

    for item in ("waffle", "croffle"):
        deleted = await seller.request("DELETE", f"/api/items/{shop[item]['id']}")
        assert deleted.status_code == 204

    cart = await cart_of(shopper)
    assert item_ids(cart) == [shop["bingsu"]["id"]]
    assert cart["total_price"] == 17500


# -- DELETE /api/carts ----------------------------------------------------------------------


async def test_empty_cart_removes_every_line(
    client: httpx.AsyncClient, shop: dict[str, Any]
) -> None:
    shopper = await sign_up(client)
    await put(shopper, shop["waffle"]["id"], 2)
    await put(shopper, shop["bingsu"]["id"], 1)

    first = await shopper.request("DELETE", "/api/carts")
    again = await shopper.request("DELETE", "/api/carts")

    assert (first.status_code, first.content) == (204, b"")
    assert (again.status_code, again.content) == (204, b"")
    assert await cart_of(shopper) == EMPTY_CART
    assert await stock_of(client, shop["waffle"]["id"]) == 5


# -- POST /api/carts/checkout ---------------------------------------------------------------


async def test_checkout_orders_the_cart_and_empties_it(
    client: httpx.AsyncClient, shop: dict[str, Any]
) -> None:
    shopper = await sign_up(client)
    await put(shopper, shop["bingsu"]["id"], 1)
    await put(shopper, shop["waffle"]["id"], 2)
    cart = await put(shopper, shop["croffle"]["id"], 5)

    response = await shopper.request("POST", "/api/carts/checkout")

    assert response.status_code == 201, response.text
    order = response.json()
    assert order == {"order_id": order["order_id"], **cart, "status": "ORDERED"}
    assert await cart_of(shopper) == EMPTY_CART
    stocks = [await stock_of(client, shop[item]["id"]) for item in ("waffle", "croffle", "bingsu")]
    assert stocks == [3, 0, 4]
    assert await my_orders(shopper) == [
        {"order_id": order["order_id"], "total_price": cart["total_price"], "status": "ORDERED"}
    ]
    read = await shopper.request("GET", f"/api/orders/{order['order_id']}")
    assert read.json() == order


async def test_checkout_prices_are_fixed_at_checkout(
    client: httpx.AsyncClient, shop: dict[str, Any]
) -> None:
    shopper = await sign_up(client)
    await put(shopper, shop["waffle"]["id"], 1)
    await shop["seller_a"].request(
        "PATCH", f"/api/items/{shop['waffle']['id']}", json={"price": 7000}
    )

    order = (await shopper.request("POST", "/api/carts/checkout")).json()
    await shop["seller_a"].request("PATCH", f"/api/items/{shop['waffle']['id']}", json={"price": 1})

    assert order["total_price"] == 10000
    read = await shopper.request("GET", f"/api/orders/{order['order_id']}")
    assert read.json() == order


async def test_checkout_of_an_empty_cart_is_err_024(
    client: httpx.AsyncClient, shop: dict[str, Any]
) -> None:
    shopper = await sign_up(client)
    await put(shopper, shop["waffle"]["id"], 1)
    await shop["seller_a"].request("DELETE", f"/api/items/{shop['waffle']['id']}")

    for _ in range(2):  # emptied by the item's deletion, then never filled
        response = await shopper.request("POST", "/api/carts/checkout")
        assert_error(response, 422, "ERR_024", "EMPTY ITEM LIST")
    assert await my_orders(shopper) == []


async def test_checkout_over_stock_is_err_017_and_changes_nothing(
    client: httpx.AsyncClient, shop: dict[str, Any]
) -> None:
    shopper = await sign_up(client)
    await put(shopper, shop["waffle"]["id"], 2)
    cart = await put(shopper, shop["bingsu"]["id"], 6)

    response = await shopper.request("POST", "/api/carts/checkout")

    assert_error(response, 409, "ERR_017", "NOT ENOUGH STOCK")
    assert await cart_of(shopper) == cart
    assert await stock_of(client, shop["waffle"]["id"]) == 5
    assert await stock_of(client, shop["bingsu"]["id"]) == 5
    assert await my_orders(shopper) == []


async def test_checkout_ignores_a_body(client: httpx.AsyncClient, shop: dict[str, Any]) -> None:
    shopper = await sign_up(client)
    await put(shopper, shop["waffle"]["id"], 1)

    response = await shopper.request("POST", "/api/carts/checkout", content=b"{not json")

    assert response.status_code == 201, response.text
