from __future__ import annotations

import httpx

from tests.api.shop import sign_up


async def test_order_round_trip(client: httpx.AsyncClient) -> None:
    seller = await sign_up(client)
    await seller.open_store(delivery_fee=3000)
    waffle = await seller.add_item(price=10000, stock=5)
    buyer = await sign_up(client)

    placed = await buyer.order((waffle["id"], 2))

    assert placed.status_code == 201, placed.text
    assert placed.json()["total_price"] == 23000
    stock = await client.get(f"/api/items?store_id={placed.json()['details'][0]['store_id']}")
    assert stock.json()[0]["stock"] == 3
