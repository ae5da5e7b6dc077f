"""Contract §8: opening, editing and reading stores, and a store's item list."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from tests.api.shop import (
    AUTH_CASES,
    ERR_002,
    ERR_003,
    ERR_005,
    ERR_006,
    ERR_007,
    ERR_008,
    ERR_009,
    ERR_010,
    ERR_011,
    ERR_012,
    Shopper,
    assert_error,
    sign_up,
    sign_up_many,
    unique_phone,
)

STORE_KEYS = {"id", "store_name", "address", "email", "phone_number", "delivery_fee"}
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
JSON = {"Content-Type": "application/json"}
NOT_A_UUID = "not-a-uuid"


def store_body(**fields: Any) -> dict[str, Any]:
    return {
        "store_name": f"st-{uuid.uuid4().hex[:10]}",
        "address": "서울시 관악구",
        "email": f"shop-{uuid.uuid4().hex[:8]}@example.com",
        "phone_number": unique_phone(),
        "delivery_fee": 3000,
        **fields,
    }


async def post_store(shopper: Shopper, body: Any) -> httpx.Response:
    return await shopper.request("POST", "/api/stores", json=body)


async def patch_store(shopper: Shopper, store_id: str, body: Any) -> httpx.Response:
    return await shopper.request("PATCH", f"/api/stores/{store_id}", json=body)


async def read_store(http: httpx.AsyncClient, store_id: str) -> dict[str, Any]:
    response = await http.get(f"/api/stores/{store_id}")
    assert response.status_code == 200, response.text
    store: dict[str, Any] = response.json()
    return store


# Bad values for each field, shared by POST (all required) and PATCH (any one).
BAD_FIELDS = [
    ("store_name", "ab"),
    ("store_name", "s" * 21),
    ("store_name", "가" * 21),
    ("store_name", 12345),
    ("store_name", {"name": "store"}),
    ("store_name", ["store"]),
    ("store_name", None),
    ("address", "가" * 101),
    ("address", 5),
    ("address", None),
    ("email", "not-an-email"),
    ("email", "a@b@example.com"),
    ("email", True),
    ("email", None),
    ("phone_number", "01012345678"),
    ("phone_number", "010-1234-5678\n"),
    ("phone_number", "０１０-１２３４-５６７８"),
    ("phone_number", "٠١٠-١٢٣٤-٥٦٧٨"),
    ("phone_number", 1012345678),
    ("phone_number", None),
    ("delivery_fee", -1),
    ("delivery_fee", "3000"),
    ("delivery_fee", 5.0),
    ("delivery_fee", 2.5),
    ("delivery_fee", True),
    ("delivery_fee", 10**30),
    ("delivery_fee", [3000]),
    ("delivery_fee", None),
]
BAD_FIELD_IDS = [f"{name}={value!r}"[:40] for name, value in BAD_FIELDS]

# Values at the edges of each rule that must be accepted.
GOOD_EDGES = [
    ("store_name", "abc"),
    ("store_name", "가" * 20),
    ("address", "가" * 100),
    ("delivery_fee", 0),
]


# --- §8.1 open a store --------------------------------------------------------------------


async def test_open_store_returns_201_and_the_store(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    body = store_body(store_name="와플 스토어", delivery_fee=2500)

    response = await post_store(owner, body)

    assert response.status_code == 201, response.text
    store = response.json()
    assert set(store) == STORE_KEYS
    assert UUID4.match(store["id"])
    assert store == {"id": store["id"], **body}
    assert await read_store(client, store["id"]) == store


async def test_every_store_gets_its_own_id(client: httpx.AsyncClient) -> None:
    owners = await sign_up_many(client, 3)
    ids = {(await owner.open_store())["id"] for owner in owners}
    assert len(ids) == 3


@pytest.mark.parametrize(("field", "value"), GOOD_EDGES)
async def test_open_store_accepts_values_at_the_limits(
    client: httpx.AsyncClient, field: str, value: Any
) -> None:
    owner = await sign_up(client)

    response = await post_store(owner, store_body(**{field: value}))

    assert response.status_code == 201, response.text
    assert response.json()[field] == value


async def test_store_may_reuse_user_email_and_phone(client: httpx.AsyncClient) -> None:
    owner, other = await sign_up_many(client, 2)
    phone = unique_phone()
    assert (await other.request("PATCH", "/api/users/me", json={"phone_number": phone})).is_success

    response = await post_store(owner, store_body(email=other.email, phone_number=phone))

    assert response.status_code == 201, response.text
    own = await post_store(other, store_body(email=other.email))
    assert_error(own, *ERR_009)  # now a *store* uses that e-mail


@pytest.mark.parametrize("field", sorted(STORE_KEYS - {"id"}))
async def test_open_store_without_a_field_is_err_002(client: httpx.AsyncClient, field: str) -> None:
    owner = await sign_up(client)
    body = store_body()
    del body[field]
    assert_error(await post_store(owner, body), *ERR_002)


async def test_missing_field_beats_malformed_field(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    body = store_body(delivery_fee="free", phone_number="nope")
    del body["store_name"]
    assert_error(await post_store(owner, body), *ERR_002)


async def test_open_store_without_a_body_is_err_002(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    assert_error(await owner.request("POST", "/api/stores"), *ERR_002)


@pytest.mark.parametrize(("field", "value"), BAD_FIELDS, ids=BAD_FIELD_IDS)
async def test_open_store_with_a_malformed_field_is_err_003(
    client: httpx.AsyncClient, field: str, value: Any
) -> None:
    owner = await sign_up(client)

    assert_error(await post_store(owner, store_body(**{field: value})), *ERR_003)


@pytest.mark.parametrize(
    "content",
    [b"{store_name", b"[]", b'"store"', b"null"],
    ids=["unparseable", "array", "string", "null"],
)
async def test_open_store_with_a_body_that_is_no_object_is_err_003(
    client: httpx.AsyncClient, content: bytes
) -> None:
    owner = await sign_up(client)
    response = await owner.request("POST", "/api/stores", content=content, headers=JSON)
    assert_error(response, *ERR_003)


async def test_second_store_of_an_owner_is_err_008(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    await owner.open_store()
    assert_error(await post_store(owner, store_body()), *ERR_008)


async def test_err_008_is_reported_even_when_data_also_conflicts(
    client: httpx.AsyncClient,
) -> None:
    owner, other = await sign_up_many(client, 2)
    own = await owner.open_store()
    theirs = await other.open_store()

    for clash in (own, theirs):
        body = {key: value for key, value in clash.items() if key != "id"}
        assert_error(await post_store(owner, body), *ERR_008)


async def test_malformed_body_beats_err_008(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    await owner.open_store()
    assert_error(await post_store(owner, store_body(delivery_fee=-5)), *ERR_003)


@pytest.mark.parametrize("field", ["store_name", "email", "phone_number"])
async def test_open_store_with_another_stores_data_is_err_009(
    client: httpx.AsyncClient, field: str
) -> None:
    first, second = await sign_up_many(client, 2)
    taken = await first.open_store()

    assert_error(await post_store(second, store_body(**{field: taken[field]})), *ERR_009)

    assert (await post_store(second, store_body())).status_code == 201


# --- §8.2 edit own store ------------------------------------------------------------------


async def test_edit_store_sets_every_field(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    store = await owner.open_store()
    body = store_body(store_name="새 이름", address="부산", delivery_fee=0)

    response = await patch_store(owner, store["id"], body)

    assert response.status_code == 200, response.text
    assert response.json() == {"id": store["id"], **body}
    assert await read_store(client, store["id"]) == {"id": store["id"], **body}


@pytest.mark.parametrize(("field", "value"), [*GOOD_EDGES, ("delivery_fee", 99999)])
async def test_edit_store_changes_only_the_given_field(
    client: httpx.AsyncClient, field: str, value: Any
) -> None:
    owner = await sign_up(client)
    store = await owner.open_store()

    response = await patch_store(owner, store["id"], {field: value})

    assert response.status_code == 200, response.text
    assert response.json() == {**store, field: value}


async def test_own_current_values_are_not_a_conflict(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    store = await owner.open_store()
    body = {key: value for key, value in store.items() if key != "id"}

    response = await patch_store(owner, store["id"], body)

    assert response.status_code == 200, response.text
    assert response.json() == store


async def test_edit_store_ignores_undefined_keys_next_to_a_field(
    client: httpx.AsyncClient,
) -> None:
    owner = await sign_up(client)
    store = await owner.open_store()

    response = await patch_store(owner, store["id"], {"address": "대전", "id": "mine"})

    assert response.status_code == 200, response.text
    assert response.json() == {**store, "address": "대전"}


async def test_edit_store_without_a_body_is_err_002(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    store = await owner.open_store()
    assert_error(await owner.request("PATCH", f"/api/stores/{store['id']}"), *ERR_002)


@pytest.mark.parametrize(
    "body",
    [{}, {"owner_id": "x"}, {"store_name": "ok-name", "address": None}],
    ids=["empty", "only-unknown-keys", "null-next-to-valid"],
)
async def test_edit_store_without_a_valid_updatable_field_is_err_003(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    owner = await sign_up(client)
    store = await owner.open_store()

    assert_error(await patch_store(owner, store["id"], body), *ERR_003)

    assert await read_store(client, store["id"]) == store


@pytest.mark.parametrize(("field", "value"), BAD_FIELDS, ids=BAD_FIELD_IDS)
async def test_edit_store_with_a_malformed_field_is_err_003(
    client: httpx.AsyncClient, field: str, value: Any
) -> None:
    owner = await sign_up(client)
    store = await owner.open_store()

    assert_error(await patch_store(owner, store["id"], {field: value}), *ERR_003)

    assert await read_store(client, store["id"]) == store


async def test_edit_store_with_unparseable_json_is_err_003(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    store = await owner.open_store()
    response = await owner.request(
        "PATCH", f"/api/stores/{store['id']}", content=b"{,}", headers=JSON
    )
    assert_error(response, *ERR_003)


async def test_malformed_body_beats_unknown_store(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    assert_error(await patch_store(owner, NOT_A_UUID, {}), *ERR_003)


@pytest.mark.parametrize("store_id", [str(uuid.uuid4()), NOT_A_UUID], ids=["uuid", "not-uuid"])
@pytest.mark.parametrize("owns_store", [True, False], ids=["owner", "no-store"])
async def test_edit_unknown_store_is_err_010(
    client: httpx.AsyncClient, store_id: str, owns_store: bool
) -> None:
    caller = await sign_up(client)
    if owns_store:
        await caller.open_store()
    assert_error(await patch_store(caller, store_id, {"address": "x"}), *ERR_010)


async def test_edit_store_without_owning_one_is_err_011(client: httpx.AsyncClient) -> None:
    owner, stranger = await sign_up_many(client, 2)
    store = await owner.open_store()

    # The new name would also clash with the store itself: ERR_011 comes first.
    response = await patch_store(stranger, store["id"], {"store_name": store["store_name"]})

    assert_error(response, *ERR_011)
    assert await read_store(client, store["id"]) == store


async def test_edit_someone_elses_store_is_err_012(client: httpx.AsyncClient) -> None:
    owner, rival = await sign_up_many(client, 2)
    store = await owner.open_store()
    rivals = await rival.open_store()

    # Conflicting with the target store's name too: ERR_012 comes before ERR_009.
    response = await patch_store(rival, store["id"], {"store_name": rivals["store_name"]})

    assert_error(response, *ERR_012)
    assert await read_store(client, store["id"]) == store


@pytest.mark.parametrize("field", ["store_name", "email", "phone_number"])
async def test_edit_store_to_another_stores_data_is_err_009(
    client: httpx.AsyncClient, field: str
) -> None:
    owner, other = await sign_up_many(client, 2)
    store = await owner.open_store()
    taken = await other.open_store()

    assert_error(await patch_store(owner, store["id"], {field: taken[field]}), *ERR_009)

    assert await read_store(client, store["id"]) == store


async def test_edit_store_may_reuse_a_users_email(client: httpx.AsyncClient) -> None:
    owner, other = await sign_up_many(client, 2)
    store = await owner.open_store()

    response = await patch_store(owner, store["id"], {"email": other.email})

    assert response.status_code == 200, response.text
    assert response.json()["email"] == other.email


# --- §8.3 store details and §8.4 a store's items ------------------------------------------


async def test_store_details_need_no_authentication(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    store = await owner.open_store()

    response = await client.get(
        f"/api/stores/{store['id']}", headers={"Authorization": "Bearer not-a-jwt"}
    )

    assert response.status_code == 200, response.text
    assert response.json() == store


@pytest.mark.parametrize("suffix", ["", "/items"], ids=["details", "items"])
@pytest.mark.parametrize("store_id", [str(uuid.uuid4()), NOT_A_UUID], ids=["uuid", "not-uuid"])
async def test_unknown_store_is_err_010(
    client: httpx.AsyncClient, store_id: str, suffix: str
) -> None:
    assert_error(await client.get(f"/api/stores/{store_id}{suffix}"), *ERR_010)


async def test_store_without_items_lists_empty(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    store = await owner.open_store()

    response = await client.get(f"/api/stores/{store['id']}/items")

    assert response.status_code == 200, response.text
    assert response.json() == []


async def test_store_items_are_its_live_items_including_sold_out(
    client: httpx.AsyncClient,
) -> None:
    owner, other = await sign_up_many(client, 2)
    store = await owner.open_store()
    await other.open_store()
    waffle = await owner.add_item("와플", 10000, 15)
    sold_out = await owner.add_item("식빵", 3000, 0)
    removed = await owner.add_item("케이크", 5000, 2)
    await other.add_item("남의 물건", 100, 1)
    assert (await owner.request("DELETE", f"/api/items/{removed['id']}")).status_code == 204

    response = await client.get(
        f"/api/stores/{store['id']}/items", headers={"Authorization": "garbage"}
    )

    assert response.status_code == 200, response.text
    listed = sorted(response.json(), key=lambda item: item["item_name"])
    assert listed == [
        {"id": sold_out["id"], "item_name": "식빵", "price": 3000, "stock": 0},
        {"id": waffle["id"], "item_name": "와플", "price": 10000, "stock": 15},
    ]


# --- authentication on the store endpoints ------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [case[1:] for case in AUTH_CASES],
    ids=[case[0] for case in AUTH_CASES],
)
@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_store_edits_check_the_authorization_header(
    client: httpx.AsyncClient, method: str, header: str | None, expected: tuple[int, str, str]
) -> None:
    owner = await sign_up(client)
    store = await owner.open_store()
    path = "/api/stores" if method == "POST" else f"/api/stores/{store['id']}"
    headers = {}
    if header is not None:
        value = header.format(access=owner.access_token, refresh=owner.refresh_token)
        headers["Authorization"] = value

    response = await client.request(method, path, json=store_body(), headers=headers)

    assert_error(response, *expected)
    assert await read_store(client, store["id"]) == store


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, ERR_005),
        ({"Authorization": "Token x"}, ERR_006),
        ({"Authorization": "Bearer x"}, ERR_007),
    ],
    ids=["absent", "malformed", "invalid"],
)
@pytest.mark.parametrize(
    "content",
    [None, b"{oops", b"{}", b'{"store_name": 1}'],
    ids=["none", "bad-json", "empty", "bad"],
)
@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_authentication_beats_body_errors(
    client: httpx.AsyncClient,
    method: str,
    content: bytes | None,
    headers: dict[str, str],
    expected: tuple[int, str, str],
) -> None:
    path = "/api/stores" if method == "POST" else f"/api/stores/{NOT_A_UUID}"
    response = await client.request(method, path, content=content, headers={**JSON, **headers})
    assert_error(response, *expected)
