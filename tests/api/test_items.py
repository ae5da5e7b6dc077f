"""Items (contract §9.1–9.4): adding, searching, editing and deleting."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.api.shop import (
    ERR_003,
    ERR_013,
    ERR_014,
    UUID_PATTERN,
    assert_error,
    listed_item,
    missing_id,
    open_shop,
    sign_up,
)

ITEM_KEYS = {"id", "item_name", "price", "stock"}
LISTED_KEYS = ITEM_KEYS | {"store_id", "store_name"}
VALID_ITEM = {"item_name": "와플", "price": 10000, "stock": 15}


# -- POST /api/items ------------------------------------------------------------------------


async def test_add_item_returns_the_item(client: httpx.AsyncClient) -> None:
    seller, _, _ = await open_shop(client)

    response = await seller.request("POST", "/api/items", json=VALID_ITEM)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body.keys() == ITEM_KEYS
    assert re.match(UUID_PATTERN, body["id"])
    assert body == {**VALID_ITEM, "id": body["id"]}


async def test_add_item_accepts_the_boundaries(client: httpx.AsyncClient) -> None:
    seller, store, _ = await open_shop(client)
    bodies = [
        {"item_name": "와플", "price": 0, "stock": 0},
        {"item_name": "가" * 50, "price": 2**31 - 1, "stock": 2**31 - 1},
    ]

    for body in bodies:
        response = await seller.request("POST", "/api/items", json=body)
        assert response.status_code == 201, response.text
        assert response.json() == {**body, "id": response.json()["id"]}
    listed = await client.get(f"/api/stores/{store['id']}/items")
    assert [item["item_name"] for item in listed.json()] == ["와플", "가" * 50]


async def test_every_new_item_gets_its_own_id(client: httpx.AsyncClient) -> None:
    _, _, items = await open_shop(client, ("와플", 1, 1), ("와플", 1, 1))

    assert items[0]["id"] != items[1]["id"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"price": 1, "stock": 1}, id="no-name"),
        pytest.param({"item_name": "와플", "stock": 1}, id="no-price"),
        pytest.param({"item_name": "와플", "price": 1}, id="no-stock"),
        pytest.param({"item_name": "x", "price": "free"}, id="missing-beats-malformed"),
        pytest.param(None, id="no-body"),
    ],
)
async def test_add_item_missing_field_is_err_002(
    client: httpx.AsyncClient, body: dict[str, Any] | None
) -> None:
    seller, _, _ = await open_shop(client)

    response = await seller.request("POST", "/api/items", json=body)

    assert_error(response, 400, "ERR_002", "MISSING REQUIRED FIELDS")


BAD_ITEM_FIELDS = [
    ("item_name", "x"),
    ("item_name", "x" * 51),
    ("item_name", 12),
    ("item_name", None),
    ("price", -1),
    ("price", "100"),
    ("price", 1.5),
    ("price", True),
    ("price", 10**30),
    ("price", None),
    ("stock", -1),
    ("stock", "5"),
    ("stock", 2.5),
    ("stock", False),
    ("stock", 10**30),
    ("stock", [1]),
]


@pytest.mark.parametrize(("field", "value"), BAD_ITEM_FIELDS)
async def test_add_item_bad_field_is_err_003(
    client: httpx.AsyncClient, field: str, value: object
) -> None:
    seller, _, _ = await open_shop(client)

    response = await seller.request("POST", "/api/items", json={**VALID_ITEM, field: value})

    assert_error(response, *ERR_003)


@pytest.mark.parametrize("content", [b"[]", b'"item"', b"{not json"])
async def test_add_item_body_not_a_json_object_is_err_003(
    client: httpx.AsyncClient, content: bytes
) -> None:
    seller, _, _ = await open_shop(client)

    response = await seller.request(
        "POST", "/api/items", content=content, headers={"Content-Type": "application/json"}
    )

    assert_error(response, *ERR_003)


async def test_add_item_without_a_store_is_err_011_after_validation(
    client: httpx.AsyncClient,
) -> None:
    shopper = await sign_up(client)

    invalid = await shopper.request("POST", "/api/items", json={**VALID_ITEM, "price": -1})
    valid = await shopper.request("POST", "/api/items", json=VALID_ITEM)

    assert_error(invalid, *ERR_003)
    assert_error(valid, 403, "ERR_011", "NO STORE OWNED")


# -- GET /api/items -------------------------------------------------------------------------


async def test_search_lists_live_items_with_their_store(client: httpx.AsyncClient) -> None:
    _, store, (waffle,) = await open_shop(client, ("와플", 10000, 15))

    response = await client.get("/api/items")

    assert response.status_code == 200, response.text
    assert response.json() == [
        {**waffle, "store_id": store["id"], "store_name": store["store_name"]}
    ]
    assert response.json()[0].keys() == LISTED_KEYS


async def test_search_with_nothing_for_sale_is_empty(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/items")

    assert response.status_code == 200
    assert response.json() == []


async def test_search_ignores_the_authorization_header(client: httpx.AsyncClient) -> None:
    await open_shop(client, ("와플", 1, 1))

    response = await client.get("/api/items", headers={"Authorization": "Basic garbage"})

    assert response.status_code == 200
    assert len(response.json()) == 1


@pytest.fixture
async def catalogue(client: httpx.AsyncClient) -> dict[str, Any]:
    """Two stores: cheap (0, stock 0), mid (500), dear (1000) in the first; other (500) in B."""
    _, first, (cheap, mid, dear) = await open_shop(
        client, ("cheap", 0, 0), ("mid", 500, 3), ("dear", 1000, 1)
    )
    _, second, (other,) = await open_shop(client, ("other", 500, 0))
    return {
        "first": first["id"],
        "second": second["id"],
        "cheap": cheap["id"],
        "mid": mid["id"],
        "dear": dear["id"],
        "other": other["id"],
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, {"cheap", "mid", "dear", "other"}),
        ({"store_id": "first"}, {"cheap", "mid", "dear"}),
        ({"store_id": "second"}, {"other"}),
        ({"min_price": 500}, {"mid", "dear", "other"}),
        ({"max_price": 500}, {"cheap", "mid", "other"}),
        ({"min_price": 500, "max_price": 500}, {"mid", "other"}),
        ({"min_price": 501, "max_price": 499}, set()),
        ({"min_price": -10}, {"cheap", "mid", "dear", "other"}),
        ({"in_stock": "true"}, {"mid", "dear"}),
        ({"in_stock": "false"}, {"cheap", "mid", "dear", "other"}),
        ({"store_id": "second", "in_stock": "true"}, set()),
        ({"store_id": "first", "min_price": 1, "max_price": 999, "in_stock": "true"}, {"mid"}),
    ],
)
async def test_search_filters_combine(
    client: httpx.AsyncClient,
    catalogue: dict[str, Any],
    query: dict[str, Any],
    expected: set[str],
) -> None:
    params = {key: catalogue[value] if key == "store_id" else value for key, value in query.items()}

    response = await client.get("/api/items", params=params)

    assert response.status_code == 200, response.text
    names = {catalogue_name(catalogue, item["id"]) for item in response.json()}
    assert names == expected


def catalogue_name(catalogue: dict[str, Any], item_id: str) -> str:
    return next(name for name, value in catalogue.items() if value == item_id)


@pytest.mark.parametrize(
    "query",
    [
        "min_price=abc",
        "max_price=1.5",
        "min_price=",
        "in_stock=maybe",
        "in_stock=",
        "in_stock=true&max_price=ten",
        f"store_id={missing_id()}&min_price=x",
    ],
)
async def test_search_unparseable_query_is_err_003(client: httpx.AsyncClient, query: str) -> None:
    response = await client.get(f"/api/items?{query}")

    assert_error(response, *ERR_003)


async def test_search_huge_price_bound_is_never_a_server_error(
    client: httpx.AsyncClient,
) -> None:
    await open_shop(client, ("와플", 1, 1))

    response = await client.get(f"/api/items?min_price={10**30}")

    # Parseable but beyond any price: either nothing matches or it is out of range.
    if response.status_code == 200:
        assert response.json() == []
    else:
        assert_error(response, *ERR_003)


@pytest.mark.parametrize("store_id", [missing_id(), "not-a-uuid"])
async def test_search_by_unknown_store_is_err_010(client: httpx.AsyncClient, store_id: str) -> None:
    response = await client.get("/api/items", params={"store_id": store_id})

    assert_error(response, 404, "ERR_010", "STORE NOT FOUND")


async def test_search_shows_the_current_store_name(client: httpx.AsyncClient) -> None:
    seller, store, (waffle,) = await open_shop(client, ("와플", 1, 1))
    renamed = await seller.request(
        "PATCH", f"/api/stores/{store['id']}", json={"store_name": "새 이름 상점"}
    )
    assert renamed.status_code == 200, renamed.text

    item = await listed_item(client, waffle["id"])

    assert item is not None
    assert item["store_name"] == "새 이름 상점"


# -- PATCH /api/items/{item_id} -------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"item_name": "크로플"},
        {"price": 0},
        {"stock": 2},
        {"item_name": "크로플", "price": 7, "stock": 0, "unknown": "ignored"},
    ],
)
async def test_edit_item_changes_only_the_given_fields(
    client: httpx.AsyncClient, changes: dict[str, Any]
) -> None:
    seller, _, (waffle,) = await open_shop(client, ("와플", 10000, 15))

    response = await seller.request("PATCH", f"/api/items/{waffle['id']}", json=changes)

    assert response.status_code == 200, response.text
    expected = {**waffle, **changes}
    expected.pop("unknown", None)
    assert response.json() == expected
    listed = await listed_item(client, waffle["id"])
    assert listed is not None
    assert {key: listed[key] for key in ITEM_KEYS} == expected


async def test_edit_item_sets_stock_rather_than_adding(client: httpx.AsyncClient) -> None:
    seller, _, (waffle,) = await open_shop(client, ("와플", 1, 15))

    response = await seller.request("PATCH", f"/api/items/{waffle['id']}", json={"stock": 4})

    assert response.json()["stock"] == 4


async def test_edit_item_without_body_is_err_002(client: httpx.AsyncClient) -> None:
    seller, _, (waffle,) = await open_shop(client, ("와플", 1, 1))

    response = await seller.request("PATCH", f"/api/items/{waffle['id']}")

    assert_error(response, 400, "ERR_002", "MISSING REQUIRED FIELDS")


@pytest.mark.parametrize(
    "body",
    [{}, {"unknown": 1}, *({field: value} for field, value in BAD_ITEM_FIELDS)],
)
async def test_edit_item_bad_body_is_err_003(client: httpx.AsyncClient, body: Any) -> None:
    seller, _, (waffle,) = await open_shop(client, ("와플", 1, 1))

    response = await seller.request("PATCH", f"/api/items/{waffle['id']}", json=body)

    assert_error(response, *ERR_003)
    assert await listed_item(client, waffle["id"]) is not None


async def test_edit_item_precedence_003_011_013_014(client: httpx.AsyncClient) -> None:
    """ERR_003, then ERR_011 (even for an unknown item), then ERR_013, then ERR_014."""
    _, _, (waffle,) = await open_shop(client, ("와플", 7, 1))
    rival, _, _ = await open_shop(client)
    storeless = await sign_up(client)
    unknown = f"/api/items/{missing_id()}"
    mine = f"/api/items/{waffle['id']}"

    assert_error(await storeless.request("PATCH", unknown, json={}), *ERR_003)
    no_store = await storeless.request("PATCH", unknown, json={"price": 1})
    assert_error(no_store, 403, "ERR_011", "NO STORE OWNED")
    assert_error(
        await storeless.request("PATCH", mine, json={"price": 1}), 403, "ERR_011", "NO STORE OWNED"
    )
    assert_error(await rival.request("PATCH", unknown, json={"price": 1}), *ERR_013)
    assert_error(await rival.request("PATCH", "/api/items/not-a-uuid", json={"price": 1}), *ERR_013)
    assert_error(await rival.request("PATCH", mine, json={"price": 1}), *ERR_014)
    assert (await listed_item(client, waffle["id"]) or {}).get("price") == 7


# -- DELETE /api/items/{item_id} ------------------------------------------------------------


async def test_delete_item_removes_it_from_the_catalogue(client: httpx.AsyncClient) -> None:
    seller, store, (waffle, kept) = await open_shop(client, ("와플", 1, 1), ("크로플", 2, 2))
    path = f"/api/items/{waffle['id']}"

    response = await seller.request("DELETE", path)

    assert response.status_code == 204
    assert response.content == b""
    assert [item["id"] for item in (await client.get("/api/items")).json()] == [kept["id"]]
    store_items = await client.get(f"/api/stores/{store['id']}/items")
    assert store_items.json() == [kept]
    assert_error(await seller.request("PATCH", path, json={"price": 5}), *ERR_013)
    assert_error(await seller.request("DELETE", path), *ERR_013)
    assert_error(await client.get(f"{path}/reviews"), *ERR_013)


async def test_delete_item_precedence_013_then_014(client: httpx.AsyncClient) -> None:
    """ERR_013 first; ERR_014 for another owner and also for a caller who owns no store."""
    _, _, (waffle,) = await open_shop(client, ("와플", 1, 1))
    rival, _, _ = await open_shop(client)
    storeless = await sign_up(client)
    mine = f"/api/items/{waffle['id']}"

    assert_error(await storeless.request("DELETE", f"/api/items/{missing_id()}"), *ERR_013)
    assert_error(await storeless.request("DELETE", "/api/items/not-a-uuid"), *ERR_013)
    assert_error(await rival.request("DELETE", f"/api/items/{missing_id()}"), *ERR_013)
    assert_error(await storeless.request("DELETE", mine), *ERR_014)
    assert_error(await rival.request("DELETE", mine), *ERR_014)
    assert await listed_item(client, waffle["id"]) is not None


async def test_delete_item_ignores_a_body(client: httpx.AsyncClient) -> None:
    seller, _, (waffle,) = await open_shop(client, ("와플", 1, 1))

    response = await seller.request("DELETE", f"/api/items/{waffle['id']}", content=b"{oops")

    assert response.status_code == 204
