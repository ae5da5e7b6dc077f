"""No input produces a 500 or a framework body: every error is the contract's JSON object."""

from __future__ import annotations

import httpx
import pytest

from tests.api.shop import assert_error, sign_up


async def test_unknown_route_is_a_json_404(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/api/nowhere"), 404, "ERR_404", "NOT FOUND")


async def test_wrong_method_is_a_json_405(client: httpx.AsyncClient) -> None:
    response = await client.put("/api/users")
    assert_error(response, 405, "ERR_405", "METHOD NOT ALLOWED")
    assert "POST" in response.headers["allow"]


@pytest.mark.parametrize("path", ["/api/users", "/api/users/"])
async def test_path_with_or_without_trailing_slash_is_answered_directly(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.post(path, json={"email": "slash@example.com", "password": "password1"})
    assert response.status_code in (201, 409)
    assert "location" not in response.headers


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[]", b'"text"', b"null", b"12", b'{"email": "a@b.cd", "password": 1e999}'],
)
async def test_body_that_is_not_a_json_object_is_err_003(
    client: httpx.AsyncClient, body: bytes
) -> None:
    response = await client.post(
        "/api/users", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error_code"] in ("ERR_002", "ERR_003")


async def test_integer_with_thousands_of_digits_is_err_003(client: httpx.AsyncClient) -> None:
    seller = await sign_up(client)
    await seller.open_store()
    body = b'{"item_name": "big", "price": ' + b"9" * 5000 + b', "stock": 1}'
    response = await seller.request(
        "POST", "/api/items", content=body, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "ERR_003", "INVALID FIELD FORMAT")


async def test_malformed_json_on_a_protected_route_reports_authentication_first(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/api/stores", content=b"{broken", headers={"Content-Type": "application/json"}
    )
    assert_error(response, 401, "ERR_005", "UNAUTHENTICATED")


async def test_missing_body_is_err_002(client: httpx.AsyncClient) -> None:
    assert_error(await client.post("/api/users"), 400, "ERR_002", "MISSING REQUIRED FIELDS")


async def test_long_path_ids_are_not_found(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/api/stores/" + "x" * 5000), 404, "ERR_010", "STORE NOT FOUND")


async def test_huge_query_numbers_are_err_003(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/items", params={"min_price": "1" + "0" * 30})
    assert_error(response, 400, "ERR_003", "INVALID FIELD FORMAT")


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok"
