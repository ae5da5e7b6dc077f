"""Property-based fuzzing of every operation of the OpenAPI schema against a real server.

Whatever schemathesis sends — valid or not — the answer is never a 5xx, and every error
body is exactly the contract's `{"error_code", "error_msg"}` object.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.schemas import OpenApiSchema

from tests.examples import TEST_SECRETS
from tests.servers import Server, wapang_server

EXAMPLES_PER_OPERATION = 40


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory: Path = tmp_path_factory.mktemp("fuzz")
    database = directory / "fuzz.db"
    with wapang_server(directory, ENV="test", DB_DATABASE=database, **TEST_SECRETS) as server:
        yield server


@pytest.fixture(scope="module")
def auth_header(fuzzed_server: Server) -> dict[str, str]:
    """A real user, with a store and an item, so protected operations get past authentication."""
    base = fuzzed_server.base_url
    credentials = {"email": "fuzz@example.com", "password": "fuzz-password"}
    httpx.post(f"{base}/api/users", json=credentials).raise_for_status()
    token = httpx.post(f"{base}/api/auth/tokens", json=credentials).json()["access_token"]
    header = {"Authorization": f"Bearer {token}"}
    store = {
        "store_name": "fuzz store",
        "address": "somewhere",
        "email": "store@example.com",
        "phone_number": "010-0000-0000",
        "delivery_fee": 100,
    }
    httpx.post(f"{base}/api/stores", json=store, headers=header).raise_for_status()
    item = {"item_name": "fuzz item", "price": 10, "stock": 10}
    httpx.post(f"{base}/api/items", json=item, headers=header).raise_for_status()
    return header


@pytest.fixture(scope="module")
def api_schema(fuzzed_server: Server) -> OpenApiSchema:
    return schemathesis.openapi.from_url(f"{fuzzed_server.base_url}/openapi.json")


def _assert_contract_error_body(response: Any) -> None:
    if response.status_code < 400:
        return
    body = response.json()
    assert set(body) == {"error_code", "error_msg"}, body
    assert body["error_code"].startswith("ERR_"), body


def _fuzz(operation: Any, auth_header: dict[str, str]) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def call(case: Any) -> None:
        headers = dict(case.headers or {})
        headers.setdefault("Authorization", auth_header["Authorization"])
        response = case.call(headers=headers, timeout=30)
        assert response.status_code < 500, (response.status_code, case.as_curl_command())
        _assert_contract_error_body(response)

    call()


# The plugin's own pytest integration does not run under pytest 9, so operations are
# driven here with Hypothesis directly: same generation, same shrinking.
def test_no_input_causes_a_server_error(
    api_schema: OpenApiSchema, auth_header: dict[str, str]
) -> None:
    operations = []
    for result in api_schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        operations.append(result.ok())
    assert len(operations) >= 30, "every endpoint of the contract is in the schema"
    for operation in operations:
        _fuzz(operation, auth_header)
