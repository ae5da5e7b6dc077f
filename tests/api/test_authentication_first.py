"""Every endpoint that needs an access token answers the authentication error before it looks
at the path or the body (contract §1.6): a bad header with a body that is not JSON, on an
unknown id, still gets ERR_005/006/007."""

from __future__ import annotations

import httpx
import pytest

from tests.api.shop import AUTH_FAILURES, assert_error, request_with_broken_auth

PROTECTED = [
    ("POST", "/api/items"),
    ("PATCH", "/api/items/{id}"),
    ("DELETE", "/api/items/{id}"),
    ("POST", "/api/items/{id}/reviews"),
    ("PATCH", "/api/reviews/{id}"),
    ("DELETE", "/api/reviews/{id}"),
    ("POST", "/api/orders"),
    ("GET", "/api/orders/{id}"),
    ("PATCH", "/api/orders/{id}"),
    ("GET", "/api/users/me/orders"),
    ("GET", "/api/carts"),
    ("PATCH", "/api/carts"),
    ("DELETE", "/api/carts"),
    ("POST", "/api/carts/checkout"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize(("case", "header", "status", "code", "message"), AUTH_FAILURES)
async def test_authentication_is_checked_first(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    case: str,
    header: str | None,
    status: int,
    code: str,
    message: str,
) -> None:
    response = await request_with_broken_auth(client, method, path, header)
    assert_error(response, status, code, message)
