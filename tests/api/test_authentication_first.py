"""Every endpoint that needs an access token answers the authentication error before it looks
at the path or the body (contract §1.6): a bad header with a body that is not JSON, on an
unknown id, still gets ERR_005/006/007."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.api.shop import AUTH_FAILURES, assert_error, request_with_broken_auth
from wapang.api.main import API_ROUTERS
from wapang.api.users.dependencies import SignedInUserOrAnonymous


def _protected_endpoints() -> list[tuple[str, str]]:
    """Every (method, path) whose route requires an authenticated caller, read off the routers
    the app serves under /api."""
    endpoints = []
    for route in (route for router in API_ROUTERS for route in router.routes):
        authentication = getattr(route, "authentication", None)
        if authentication is None or isinstance(authentication, SignedInUserOrAnonymous):
            continue
        path = "/api" + re.sub(r"\{\w+\}", "{id}", route.path)  # type: ignore[attr-defined]
        endpoints += [(method, path) for method in sorted(route.methods)]  # type: ignore[attr-defined]
    return endpoints


PROTECTED = _protected_endpoints()


def test_the_protected_endpoints_are_found() -> None:
    assert len(PROTECTED) == 21
    assert ("POST", "/api/carts/checkout") in PROTECTED
    assert ("DELETE", "/api/auth/tokens") in PROTECTED
    assert ("GET", "/api/items") not in PROTECTED


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
