"""Concurrent orders, checkouts and cancels (contract §3.2 and pitfall 12).

The requests run concurrently against the in-process app, each on its own database connection,
and the first of them also over HTTP against `wapang serve --workers 2` (two processes, each
with its own pools; placing an order runs its statements at the driver, db/statements.py).
They run on both backends: MariaDB exercises row locks, SQLite its single writer lock.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
from sqlalchemy import func, select

from tests.api.conftest import database_of
from tests.api.shop import (
    Shopper,
    assert_error,
    my_orders,
    open_shop,
    set_cart_line,
    sign_up_many,
    stock_of,
)
from tests.servers import Server
from wapang.api.orders.models import Order, OrderLine

BUYERS = 20
STOCK = 10


async def test_concurrent_orders_never_oversell(client: httpx.AsyncClient) -> None:
    _, _, (waffle,) = await open_shop(client, ("와플", 1000, STOCK))
    buyers = await sign_up_many(client, BUYERS)

    responses = await asyncio.gather(*(buyer.order((waffle["id"], 1)) for buyer in buyers))

    assert Counter(response.status_code for response in responses) == {
        201: STOCK,
        409: BUYERS - STOCK,
    }
    for response in responses:
        if response.status_code == 409:
            assert_error(response, 409, "ERR_017", "NOT ENOUGH STOCK")
    assert await stock_of(client, waffle["id"]) == 0
    placed = [order for buyer in buyers for order in await my_orders(buyer)]
    assert len(placed) == STOCK


async def fill_cart(buyer: Shopper, *item_ids: str) -> None:
    for item_id in item_ids:
        assert (await set_cart_line(buyer, item_id, 1)).status_code == 200


async def test_concurrent_orders_to_two_workers_never_oversell(
    server: Server, http: httpx.AsyncClient
) -> None:
    _, _, (waffle, croffle) = await open_shop(http, ("와플", 1000, STOCK), ("크로플", 500, 100))
    buyers = await sign_up_many(http, BUYERS)

    responses = await asyncio.gather(
        *(buyer.order((croffle["id"], 2), (waffle["id"], 1)) for buyer in buyers)
    )

    assert Counter(response.status_code for response in responses) == {
        201: STOCK,
        409: BUYERS - STOCK,
    }
    placed = {response.json()["order_id"] for response in responses if response.status_code == 201}
    async with database_of(server) as session:
        orders = set((await session.scalars(select(Order.id).where(Order.id.in_(placed)))).all())
        lines = (
            await session.execute(
                select(OrderLine.item_id, func.sum(OrderLine.quantity))
                .where(OrderLine.order_id.in_(placed))
                .group_by(OrderLine.item_id)
            )
        ).all()
        buyers_orders = await session.scalar(
            select(func.count()).select_from(Order).where(Order.buyer_id.in_(b.id for b in buyers))
        )
    assert orders == placed
    assert buyers_orders == STOCK, "a refused order left no row"
    assert dict(lines) == {waffle["id"]: STOCK, croffle["id"]: 2 * STOCK}
    assert await stock_of(http, waffle["id"]) == 0
    assert await stock_of(http, croffle["id"]) == 100 - 2 * STOCK


async def test_concurrent_checkouts_never_oversell(client: httpx.AsyncClient) -> None:
    _, _, (waffle, croffle) = await open_shop(client, ("와플", 1000, STOCK), ("크로플", 500, 20))
    buyers = await sign_up_many(client, BUYERS)
    await asyncio.gather(*(fill_cart(buyer, croffle["id"], waffle["id"]) for buyer in buyers))

    responses = await asyncio.gather(
        *(buyer.request("POST", "/api/carts/checkout") for buyer in buyers)
    )

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {201: STOCK, 409: BUYERS - STOCK}
    assert await stock_of(client, waffle["id"]) == 0
    assert await stock_of(client, croffle["id"]) == 20 - STOCK
    for buyer, response in zip(buyers, responses, strict=True):
        cart = (await buyer.request("GET", "/api/carts")).json()
        orders = await my_orders(buyer)
        if response.status_code == 201:
            assert (cart["details"], len(orders)) == ([], 1)
        else:
            assert_error(response, 409, "ERR_017", "NOT ENOUGH STOCK")
            assert (cart["total_price"], orders) == (1000 + 500 + 3000, [])


async def test_concurrent_cancels_restock_once(client: httpx.AsyncClient) -> None:
    _, _, (waffle,) = await open_shop(client, ("와플", 1000, STOCK))
    (buyer,) = await sign_up_many(client, 1)
    order = (await buyer.order((waffle["id"], 4))).json()
    path = f"/api/orders/{order['order_id']}"

    responses = await asyncio.gather(
        *(buyer.request("PATCH", path, json={"status": "CANCELED"}) for _ in range(8))
    )

    assert sorted(response.status_code for response in responses) == [200] + [409] * 7
    for response in responses:
        if response.status_code == 409:
            assert_error(response, 409, "ERR_021", "INVALID ORDER STATUS")
    assert await stock_of(client, waffle["id"]) == STOCK


async def test_cancel_racing_complete_has_one_winner(client: httpx.AsyncClient) -> None:
    _, _, (waffle,) = await open_shop(client, ("와플", 1000, STOCK))
    (buyer,) = await sign_up_many(client, 1)
    order = (await buyer.order((waffle["id"], 4))).json()
    path = f"/api/orders/{order['order_id']}"

    responses = await asyncio.gather(
        *(
            buyer.request("PATCH", path, json={"status": status})
            for status in ["CANCELED", "COMPLETE"] * 4
        )
    )

    winners = [response.json()["status"] for response in responses if response.status_code == 200]
    assert len(winners) == 1
    final = (await buyer.request("GET", path)).json()["status"]
    assert final == winners[0]
    assert await stock_of(client, waffle["id"]) == (STOCK if final == "CANCELED" else STOCK - 4)


async def test_opposite_line_orders_do_not_deadlock(client: httpx.AsyncClient) -> None:
    _, _, (first, second) = await open_shop(client, ("하나", 100, 1000), ("두울", 100, 1000))
    buyers = await sign_up_many(client, 20)

    responses = await asyncio.gather(
        *(
            buyer.order((first["id"], 1), (second["id"], 1))
            if index % 2
            else buyer.order((second["id"], 1), (first["id"], 1))
            for index, buyer in enumerate(buyers)
        )
    )

    assert [response.status_code for response in responses] == [201] * 20, [
        response.text for response in responses if response.status_code != 201
    ]
    assert await stock_of(client, first["id"]) == 980
    assert await stock_of(client, second["id"]) == 980
