"""Contract 14.3 over HTTP on `wapang serve --workers 2`, SQLite and MariaDB: the five listings
take `limit` and an opaque `cursor`, say `Link: <next>; rel="next"` while rows follow, and never
serve a row twice or skip one, even when rows are added before, inside and after the current
position between two pages."""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select

from tests.api.conftest import database_of
from tests.api.shop import (
    ERR_003,
    Shopper,
    assert_error,
    open_shop,
    sign_up,
    sign_up_many,
)
from tests.servers import Server
from wapang.api.items.models import Item
from wapang.db.base import new_id


async def _pages(
    http: httpx.AsyncClient, path: str, limit: int, **kwargs: Any
) -> list[list[dict[str, Any]]]:
    """Each page of a listing in turn, following the Link header; only the last has none."""
    pages: list[list[dict[str, Any]]] = []
    url: str | None = f"{path}{'&' if '?' in path else '?'}limit={limit}"
    while url is not None:
        response = await http.get(url, **kwargs)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        url = response.links.get("next", {}).get("url")
        if url is not None:
            assert response.headers["Link"] == f'<{url}>; rel="next"'
            assert len(pages[-1]) == limit
    return pages


async def _five_listings(http: httpx.AsyncClient) -> dict[str, tuple[str, dict[str, str]]]:
    """Seven rows in each of the five listings: (path, headers) by name."""
    _seller, store, items = await open_shop(http, *((f"와플{n}", 1000 + n, 50) for n in range(7)))
    buyer = await sign_up(http)
    await buyer.set_nickname()
    for item in items:
        assert (await buyer.order((item["id"], 1))).status_code == 201
        review = {"rating": 4, "comment": "좋아요"}
        created = await buyer.request("POST", f"/api/items/{item['id']}/reviews", json=review)
        assert created.status_code == 201, created.text
    writers = await sign_up_many(http, 6)
    for writer in writers:
        await writer.set_nickname("작성자")
        review = {"rating": 5, "comment": "맛있어요"}
        path = f"/api/items/{items[0]['id']}/reviews"
        assert (await writer.request("POST", path, json=review)).status_code == 201
    return {
        "search": (f"/api/items?store_id={store['id']}", {}),
        "store": (f"/api/stores/{store['id']}/items", {}),
        "item-reviews": (f"/api/items/{items[0]['id']}/reviews", buyer.auth),
        "my-orders": ("/api/users/me/orders", buyer.auth),
        "my-reviews": ("/api/users/me/reviews", buyer.auth),
    }


async def test_every_listing_is_served_in_pages(http: httpx.AsyncClient, server: Server) -> None:
    listings = await _five_listings(http)

    for name, (path, headers) in listings.items():
        whole = (await http.get(path, headers=headers)).json()
        pages = await _pages(http, path, 2, headers=headers)

        assert len(whole) == 7, name
        assert [len(page) for page in pages] == [2, 2, 2, 1], name
        assert [row for page in pages for row in page] == whole, name
        one_page = await http.get(f"{path}{'&' if '?' in path else '?'}limit=7", headers=headers)
        assert one_page.json() == whole, name
        assert "Link" not in one_page.headers, name


async def test_the_next_link_is_the_full_url_with_the_filters(
    http: httpx.AsyncClient, server: Server
) -> None:
    _, store, _ = await open_shop(
        http, ("와플", 1000, 5), ("크로플", 2000, 5), ("식빵", 3000, 0), ("케이크", 4000, 1)
    )

    response = await http.get(
        f"/api/items?store_id={store['id']}&min_price=1500&in_stock=true&limit=1"
    )

    assert [item["item_name"] for item in response.json()] == ["크로플"]
    next_url = response.links["next"]["url"]
    assert next_url.startswith(f"{server.base_url}/api/items?")
    assert f"store_id={store['id']}" in next_url
    assert "min_price=1500" in next_url
    assert "in_stock=true" in next_url
    assert "limit=1" in next_url
    last = await http.get(next_url)
    assert [item["item_name"] for item in last.json()] == ["케이크"]  # 식빵 is out of stock
    assert "Link" not in last.headers


async def test_a_client_that_does_not_page_gets_the_first_100_rows(
    http: httpx.AsyncClient,
) -> None:
    seller, store, _ = await open_shop(http)
    await asyncio.gather(*(seller.add_item(f"상품{n}", n, 1) for n in range(1, 102)))
    path = f"/api/stores/{store['id']}/items"

    first = await http.get(path)
    every = await http.get(f"{path}?limit=500")

    assert len(every.json()) == 101
    assert "Link" not in every.headers
    assert first.json() == every.json()[:100]
    rest = await http.get(first.links["next"]["url"])
    assert rest.json() == every.json()[100:]
    assert "Link" not in rest.headers


async def _add_item_at(server: Server, store_id: str, name: str, created_at: Any) -> str:
    item_id = new_id()
    async with database_of(server) as session:
        await session.execute(
            insert(Item).values(
                id=item_id,
                store_id=store_id,
                item_name=name,
                price=1,
                stock=1,
                created_at=created_at,
            )
        )
    return item_id


async def _created_at(server: Server, item_id: str) -> Any:
    async with database_of(server) as session:
        return await session.scalar(select(Item.created_at).where(Item.id == item_id))


@pytest.mark.parametrize("listing", ["store", "search"])
async def test_rows_added_between_pages_are_never_repeated_nor_do_they_skip_one(
    http: httpx.AsyncClient, server: Server, listing: str
) -> None:
    seller, store, items = await open_shop(http, *((f"원래{n}", 1000, 5) for n in range(9)))
    original = [item["id"] for item in items]
    path = (
        f"/api/stores/{store['id']}/items?limit=3"
        if listing == "store"
        else f"/api/items?store_id={store['id']}&limit=3"
    )
    first = await http.get(path)
    served = [item["id"] for item in first.json()]
    assert served == original[:3]
    position = await _created_at(server, served[-1])
    ahead = await _created_at(server, original[5])

    # Before the position (an offset would serve the third row again), at the position's very
    # instant on both sides of its id, ahead of it, and after every row.
    before = await _add_item_at(server, store["id"], "앞앞", position - timedelta(seconds=1))
    same_instant = [await _add_item_at(server, store["id"], "동시", position) for _ in range(4)]
    inside = await _add_item_at(server, store["id"], "사이", ahead + timedelta(microseconds=1))
    after = (await seller.add_item("뒤뒤", 1, 1))["id"]
    url: str | None = first.links["next"]["url"]
    while url is not None:
        page = await http.get(url)
        served += [item["id"] for item in page.json()]
        url = page.links.get("next", {}).get("url")

    assert len(served) == len(set(served)), "a row was served twice"
    assert [item_id for item_id in served if item_id in original] == original
    assert before not in served
    assert {inside, after} <= set(served)
    last_id = served[2]
    assert {i for i in same_instant if i > last_id} <= set(served)
    assert not {i for i in same_instant if i < last_id} & set(served)


LISTINGS = [
    "/api/items",
    "/api/stores/{store}/items",
    "/api/items/{item}/reviews",
    "/api/users/me/orders",
    "/api/users/me/reviews",
]
BAD_QUERIES = [
    "limit=0",
    "limit=501",
    "limit=-1",
    "limit=abc",
    "limit=1.5",
    "limit=",
    "cursor=",
    "cursor=not-a-cursor",
    "cursor=" + base64.urlsafe_b64encode(b'{"a":1}').decode(),
    "cursor=" + base64.urlsafe_b64encode(b'["2026-12-05T10:00:00","x"]').decode(),  # naive
    "cursor=" + base64.urlsafe_b64encode(b'["yesterday","x"]').decode(),
    "cursor=" + base64.urlsafe_b64encode(b"[1, 2]").decode(),
    "cursor=%E2%98%95",
]


@pytest.mark.parametrize("query", BAD_QUERIES)
async def test_a_malformed_limit_or_cursor_is_err_003(
    http: httpx.AsyncClient, query: str, seller_with_a_review: tuple[Shopper, str, str]
) -> None:
    shopper, store_id, item_id = seller_with_a_review
    for listing in LISTINGS:
        path = listing.format(store=store_id, item=item_id)
        response = await shopper.request("GET", f"{path}?{query}")
        assert_error(response, *ERR_003)


@pytest.fixture
async def seller_with_a_review(http: httpx.AsyncClient) -> tuple[Shopper, str, str]:
    seller, store, (item,) = await open_shop(http, ("와플", 1000, 5))
    await seller.set_nickname()
    review = {"rating": 5, "comment": "좋아요"}
    written = await seller.request("POST", f"/api/items/{item['id']}/reviews", json=review)
    assert written.status_code == 201, written.text
    return seller, store["id"], item["id"]
