"""Orders (contract §11, §3.2, §3.3 and `GET /api/users/me/orders`)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.api.shop import (
    ERR_003,
    ERR_013,
    ERR_017,
    ERR_019,
    ERR_020,
    ERR_021,
    UUID_PATTERN,
    Shopper,
    assert_error,
    missing_id,
    my_orders,
    open_shop,
    sign_up,
    sign_up_many,
    stock_of,
)

ORDER_KEYS = {"order_id", "details", "total_price", "status"}
GROUP_KEYS = {"store_id", "store_name", "delivery_fee", "store_total_price", "items"}
LINE_KEYS = {"item_id", "item_name", "price", "quantity", "subtotal"}


def line(item: dict[str, Any], quantity: int) -> dict[str, Any]:
    return {
        "item_id": item["id"],
        "item_name": item["item_name"],
        "price": item["price"],
        "quantity": quantity,
        "subtotal": item["price"] * quantity,
    }


async def placed(buyer: Shopper, *lines: tuple[str, int]) -> dict[str, Any]:
    response = await buyer.order(*lines)
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    return order


async def set_status(buyer: Shopper, order_id: str, status: object) -> httpx.Response:
    return await buyer.request("PATCH", f"/api/orders/{order_id}", json={"status": status})


@pytest.fixture
async def waffle(client: httpx.AsyncClient) -> dict[str, Any]:
    _, _, (item,) = await open_shop(client, ("와플", 10000, 5))
    return item


# -- POST /api/orders -----------------------------------------------------------------------


async def test_order_worked_example_totals_40500(client: httpx.AsyncClient) -> None:
    _, first, (waffle,) = await open_shop(client, ("와플", 10000, 5), delivery_fee=3000)
    _, second, (croffle,) = await open_shop(client, ("크로플", 15000, 5), delivery_fee=2500)
    buyer = await sign_up(client)

    response = await buyer.order((waffle["id"], 2), (croffle["id"], 1))

    assert response.status_code == 201, response.text
    order = response.json()
    assert re.match(UUID_PATTERN, order["order_id"])
    assert order == {
        "order_id": order["order_id"],
        "details": [
            {
                "store_id": first["id"],
                "store_name": first["store_name"],
                "delivery_fee": 3000,
                "store_total_price": 23000,
                "items": [line(waffle, 2)],
            },
            {
                "store_id": second["id"],
                "store_name": second["store_name"],
                "delivery_fee": 2500,
                "store_total_price": 17500,
                "items": [line(croffle, 1)],
            },
        ],
        "total_price": 40500,
        "status": "ORDERED",
    }


async def test_order_takes_its_quantities_from_stock(
    client: httpx.AsyncClient, waffle: dict[str, Any]
) -> None:
    buyer = await sign_up(client)

    await placed(buyer, (waffle["id"], 2))
    await placed(buyer, (waffle["id"], 3))

    assert await stock_of(client, waffle["id"]) == 0
    assert_error(await buyer.order((waffle["id"], 1)), *ERR_017)


async def test_duplicate_item_ids_merge_into_one_line(
    client: httpx.AsyncClient, waffle: dict[str, Any]
) -> None:
    buyer = await sign_up(client)

    order = await placed(buyer, (waffle["id"], 1), (waffle["id"], 2))

    assert order["details"][0]["items"] == [line(waffle, 3)]
    assert order["total_price"] == 3 * 10000 + 3000
    assert await stock_of(client, waffle["id"]) == 2


async def test_merged_quantities_are_checked_against_stock_together(
    client: httpx.AsyncClient, waffle: dict[str, Any]
) -> None:
    buyer = await sign_up(client)

    assert_error(await buyer.order((waffle["id"], 3), (waffle["id"], 3)), *ERR_017)

    assert await stock_of(client, waffle["id"]) == 5


async def test_lines_group_by_store_in_order_of_first_appearance(
    client: httpx.AsyncClient,
) -> None:
    _, first, (a1, a2) = await open_shop(client, ("에이원", 100, 9), ("에이투", 200, 9))
    _, second, (b1,) = await open_shop(client, ("비원", 1000, 9), delivery_fee=0)
    buyer = await sign_up(client)

    order = await placed(buyer, (b1["id"], 1), (a2["id"], 2), (a1["id"], 1))

    assert [group["store_id"] for group in order["details"]] == [second["id"], first["id"]]
    assert order["details"][0]["items"] == [line(b1, 1)]
    assert order["details"][1]["items"] == [line(a2, 2), line(a1, 1)]
    assert order["details"][1]["store_total_price"] == 400 + 100 + 3000
    assert order["details"][0]["store_total_price"] == 1000
    assert order["total_price"] == 4500
    assert order["details"][0].keys() == GROUP_KEYS
    assert order["details"][0]["items"][0].keys() == LINE_KEYS


async def test_order_up_to_the_exact_stock(client: httpx.AsyncClient) -> None:
    _, _, (free,) = await open_shop(client, ("공짜", 0, 2), delivery_fee=0)
    buyer = await sign_up(client)

    order = await placed(buyer, (free["id"], 2))

    assert order["total_price"] == 0
    assert await stock_of(client, free["id"]) == 0


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(None, id="no-body"),
        pytest.param({}, id="no-items"),
        pytest.param({"items": [{"quantity": 1}]}, id="no-item-id"),
        pytest.param({"items": [{"item_id": "x"}]}, id="no-quantity"),
        pytest.param(
            {"items": [{"item_id": 5, "quantity": "a"}, {"item_id": "x"}]},
            id="missing-beats-malformed",
        ),
    ],
)
async def test_order_missing_field_is_err_002(
    client: httpx.AsyncClient, body: dict[str, Any] | None
) -> None:
    buyer = await sign_up(client)

    response = await buyer.request("POST", "/api/orders", json=body)

    assert_error(response, 400, "ERR_002", "MISSING REQUIRED FIELDS")


@pytest.mark.parametrize(
    "items",
    [
        "everything",
        {"item_id": "x", "quantity": 1},
        None,
        [1],
        ["item"],
        [None],
        [{"item_id": "x", "quantity": 0}],
        [{"item_id": "x", "quantity": -1}],
        [{"item_id": "x", "quantity": 1.5}],
        [{"item_id": "x", "quantity": "1"}],
        [{"item_id": "x", "quantity": True}],
        [{"item_id": "x", "quantity": 10**30}],
        [{"item_id": "x", "quantity": None}],
        [{"item_id": None, "quantity": 1}],
        [{"item_id": 7, "quantity": 1}],
    ],
)
async def test_order_bad_items_is_err_003(client: httpx.AsyncClient, items: object) -> None:
    buyer = await sign_up(client)

    response = await buyer.request("POST", "/api/orders", json={"items": items})

    assert_error(response, *ERR_003)


@pytest.mark.parametrize("content", [b"[]", b"{not json"])
async def test_order_body_not_a_json_object_is_err_003(
    client: httpx.AsyncClient, content: bytes
) -> None:
    buyer = await sign_up(client)

    response = await buyer.request(
        "POST", "/api/orders", content=content, headers={"Content-Type": "application/json"}
    )

    assert_error(response, *ERR_003)


async def test_order_with_no_lines_is_err_018(client: httpx.AsyncClient) -> None:
    buyer = await sign_up(client)

    response = await buyer.request("POST", "/api/orders", json={"items": []})

    assert_error(response, 422, "ERR_018", "EMPTY ITEM LIST")


async def test_unknown_item_is_err_013_before_any_stock_check(
    client: httpx.AsyncClient, waffle: dict[str, Any]
) -> None:
    buyer = await sign_up(client)

    for unknown in (missing_id(), "not-a-uuid"):
        assert_error(await buyer.order((waffle["id"], 99), (unknown, 1)), *ERR_013)
    assert await stock_of(client, waffle["id"]) == 5
    assert await my_orders(buyer) == []


async def test_deleted_item_cannot_be_ordered(client: httpx.AsyncClient) -> None:
    seller, _, (waffle,) = await open_shop(client, ("와플", 1, 5))
    assert (await seller.request("DELETE", f"/api/items/{waffle['id']}")).status_code == 204

    assert_error(await seller.order((waffle["id"], 1)), *ERR_013)


async def test_order_is_all_or_nothing(client: httpx.AsyncClient) -> None:
    _, _, (plenty, scarce) = await open_shop(client, ("넉넉", 1, 10), ("부족", 1, 1))
    buyer = await sign_up(client)

    assert_error(await buyer.order((plenty["id"], 3), (scarce["id"], 2)), *ERR_017)

    assert await stock_of(client, plenty["id"]) == 10
    assert await stock_of(client, scarce["id"]) == 1
    assert await my_orders(buyer) == []


async def test_a_total_beyond_bigint_is_err_003_after_the_stock_check(
    client: httpx.AsyncClient,
) -> None:
    most = 2**31 - 1  # three lines of the largest price and quantity total more than 2**63 - 1
    _, _, big = await open_shop(client, *((f"큰것{n}", most, most) for n in range(3)))
    _, _, (short,) = await open_shop(client, ("모자람", most, most - 1))
    buyer = await sign_up(client)
    first, second, third = (item["id"] for item in big)

    assert_error(await buyer.order((first, most), (second, most), (third, most)), *ERR_003)
    short_and_huge = await buyer.order((first, most), (second, most), (short["id"], most))
    assert_error(short_and_huge, *ERR_017)
    assert await stock_of(client, first) == most
    assert await my_orders(buyer) == []


# -- GET /api/orders/{order_id} -------------------------------------------------------------


async def test_read_order_returns_the_creation_snapshot(client: httpx.AsyncClient) -> None:
    seller, store, (waffle, gone) = await open_shop(client, ("와플", 10000, 5), ("단종", 500, 5))
    buyer = await sign_up(client)
    created = await placed(buyer, (waffle["id"], 2), (gone["id"], 1))

    edits = [
        ("PATCH", f"/api/items/{waffle['id']}", {"item_name": "비싼 와플", "price": 99999}),
        ("PATCH", f"/api/stores/{store['id']}", {"store_name": "새 상점", "delivery_fee": 9}),
        ("DELETE", f"/api/items/{gone['id']}", None),
    ]
    for method, path, body in edits:
        assert (await seller.request(method, path, json=body)).status_code in (200, 204)
    response = await buyer.request("GET", f"/api/orders/{created['order_id']}")

    assert response.status_code == 200, response.text
    assert response.json() == created
    assert created["total_price"] == 20000 + 500 + 3000


@pytest.mark.parametrize("order_id", [missing_id(), "not-a-uuid"])
async def test_unknown_order_is_err_019(client: httpx.AsyncClient, order_id: str) -> None:
    buyer = await sign_up(client)

    assert_error(await buyer.request("GET", f"/api/orders/{order_id}"), *ERR_019)
    assert_error(await set_status(buyer, order_id, "CANCELED"), *ERR_019)


async def test_another_users_order_is_err_020(
    client: httpx.AsyncClient, waffle: dict[str, Any]
) -> None:
    buyer, stranger = await sign_up_many(client, 2)
    order = await placed(buyer, (waffle["id"], 1))
    path = f"/api/orders/{order['order_id']}"

    assert_error(await stranger.request("GET", path), *ERR_020)
    assert_error(await set_status(stranger, order["order_id"], "CANCELED"), *ERR_020)
    assert (await buyer.request("GET", path)).json()["status"] == "ORDERED"
    assert await stock_of(client, waffle["id"]) == 4
    assert await my_orders(stranger) == []


# -- PATCH /api/orders/{order_id} -----------------------------------------------------------


async def test_cancel_returns_the_stock(client: httpx.AsyncClient, waffle: dict[str, Any]) -> None:
    buyer = await sign_up(client)
    order = await placed(buyer, (waffle["id"], 3))

    response = await set_status(buyer, order["order_id"], "CANCELED")

    assert response.status_code == 200, response.text
    assert response.json() == {**order, "status": "CANCELED"}
    assert await stock_of(client, waffle["id"]) == 5
    read = await buyer.request("GET", f"/api/orders/{order['order_id']}")
    assert read.json()["status"] == "CANCELED"


async def test_complete_keeps_the_stock(client: httpx.AsyncClient, waffle: dict[str, Any]) -> None:
    buyer = await sign_up(client)
    order = await placed(buyer, (waffle["id"], 3))

    response = await set_status(buyer, order["order_id"], "COMPLETE")

    assert response.status_code == 200, response.text
    assert response.json() == {**order, "status": "COMPLETE"}
    assert await stock_of(client, waffle["id"]) == 2


@pytest.mark.parametrize("first", ["CANCELED", "COMPLETE"])
@pytest.mark.parametrize("second", ["CANCELED", "COMPLETE"])
async def test_final_status_cannot_change_err_021(
    client: httpx.AsyncClient, waffle: dict[str, Any], first: str, second: str
) -> None:
    buyer = await sign_up(client)
    order = await placed(buyer, (waffle["id"], 1))
    assert (await set_status(buyer, order["order_id"], first)).status_code == 200

    assert_error(await set_status(buyer, order["order_id"], second), *ERR_021)

    assert await stock_of(client, waffle["id"]) == (5 if first == "CANCELED" else 4)


async def test_status_checks_run_validation_019_020_021_in_order(
    client: httpx.AsyncClient, waffle: dict[str, Any]
) -> None:
    buyer, stranger = await sign_up_many(client, 2)
    order = await placed(buyer, (waffle["id"], 1))
    assert (await set_status(buyer, order["order_id"], "COMPLETE")).status_code == 200

    assert_error(await set_status(stranger, missing_id(), "ORDERED"), *ERR_003)
    assert_error(await set_status(stranger, missing_id(), "COMPLETE"), *ERR_019)
    assert_error(await set_status(stranger, order["order_id"], "CANCELED"), *ERR_020)
    assert_error(await set_status(buyer, order["order_id"], "CANCELED"), *ERR_021)


async def test_cancel_skips_deleted_items(client: httpx.AsyncClient) -> None:
    seller, store, (kept, gone) = await open_shop(client, ("남음", 1, 5), ("삭제", 1, 5))
    buyer = await sign_up(client)
    order = await placed(buyer, (kept["id"], 2), (gone["id"], 2))
    assert (await seller.request("DELETE", f"/api/items/{gone['id']}")).status_code == 204

    response = await set_status(buyer, order["order_id"], "CANCELED")

    assert response.status_code == 200, response.text
    assert response.json() == {**order, "status": "CANCELED"}
    assert await stock_of(client, kept["id"]) == 5
    store_items = (await client.get(f"/api/stores/{store['id']}/items")).json()
    assert [item["id"] for item in store_items] == [kept["id"]]


async def test_status_without_value_is_err_002(
    client: httpx.AsyncClient, waffle: dict[str, Any]
) -> None:
    buyer = await sign_up(client)
    order = await placed(buyer, (waffle["id"], 1))
    path = f"/api/orders/{order['order_id']}"

    for body in (None, {}, {"state": "CANCELED"}):
        response = await buyer.request("PATCH", path, json=body)
        assert_error(response, 400, "ERR_002", "MISSING REQUIRED FIELDS")


@pytest.mark.parametrize(
    "status", ["ORDERED", "canceled", "Complete", "SHIPPED", "", 1, None, True, ["CANCELED"]]
)
async def test_status_other_than_canceled_or_complete_is_err_003(
    client: httpx.AsyncClient, waffle: dict[str, Any], status: object
) -> None:
    buyer = await sign_up(client)
    order = await placed(buyer, (waffle["id"], 1))

    assert_error(await set_status(buyer, order["order_id"], status), *ERR_003)

    assert (await buyer.request("GET", f"/api/orders/{order['order_id']}")).json() == order


# -- GET /api/users/me/orders ---------------------------------------------------------------


async def test_my_orders_oldest_first_with_every_status(
    client: httpx.AsyncClient, waffle: dict[str, Any]
) -> None:
    buyer, other = await sign_up_many(client, 2)
    assert await my_orders(buyer) == []
    orders = [await placed(buyer, (waffle["id"], quantity)) for quantity in (1, 2, 1)]
    await placed(other, (waffle["id"], 1))
    await set_status(buyer, orders[0]["order_id"], "CANCELED")
    await set_status(buyer, orders[2]["order_id"], "COMPLETE")

    summaries = await my_orders(buyer)

    assert summaries == [
        {"order_id": order["order_id"], "total_price": order["total_price"], "status": status}
        for order, status in zip(orders, ("CANCELED", "ORDERED", "COMPLETE"), strict=True)
    ]
    assert [summary["total_price"] for summary in summaries] == [13000, 23000, 13000]
