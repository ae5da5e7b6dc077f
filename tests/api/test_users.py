"""Contract §7: sign-up, the own profile and its edits, own orders and own reviews."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.api.shop import (
    AUTH_CASES,
    ERR_001,
    ERR_002,
    ERR_003,
    ERR_004,
    ERR_005,
    ERR_006,
    ERR_007,
    PASSWORD,
    Shopper,
    assert_error,
    open_shop,
    register,
    sign_up,
    sign_up_many,
)

USER_KEYS = {"id", "email", "nickname", "address", "phone_number"}
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
JSON = {"Content-Type": "application/json"}


async def post_user(http: httpx.AsyncClient, body: Any) -> httpx.Response:
    return await http.post("/api/users", json=body)


async def patch_me(shopper: Shopper, body: Any) -> httpx.Response:
    return await shopper.request("PATCH", "/api/users/me", json=body)


async def me(shopper: Shopper) -> dict[str, Any]:
    response = await shopper.request("GET", "/api/users/me")
    assert response.status_code == 200, response.text
    user: dict[str, Any] = response.json()
    return user


# --- §7.1 sign up -------------------------------------------------------------------------


async def test_sign_up_returns_201_and_the_new_user(client: httpx.AsyncClient) -> None:
    response = await post_user(client, {"email": "waffle@example.com", "password": PASSWORD})

    assert response.status_code == 201, response.text
    user = response.json()
    assert set(user) == USER_KEYS
    assert UUID4.match(user["id"])
    assert user["email"] == "waffle@example.com"
    assert user["nickname"] is None
    assert user["address"] is None
    assert user["phone_number"] is None


async def test_every_user_gets_its_own_id(client: httpx.AsyncClient) -> None:
    ids = {(await register(client))["id"] for _ in range(3)}
    assert len(ids) == 3


async def test_sign_up_ignores_undefined_keys(client: httpx.AsyncClient) -> None:
    body = {"email": "extra@example.com", "password": PASSWORD, "nickname": "x", "id": "mine"}

    response = await post_user(client, body)

    assert response.status_code == 201, response.text
    assert response.json()["nickname"] is None
    assert response.json()["id"] != "mine"


async def test_sign_up_ignores_the_authorization_header(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/users",
        json={"email": "hdr@example.com", "password": PASSWORD},
        headers={"Authorization": "Bearer not-a-jwt"},
    )
    assert response.status_code == 201, response.text


async def test_sign_up_with_trailing_slash_answers_without_redirect(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/api/users/", json={"email": "slash@example.com", "password": PASSWORD}
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "password",
    ["12345678", "x" * 20, "비밀번호비밀번호", "가" * 20],
    ids=["8-ascii", "20-ascii", "8-korean", "20-korean"],
)
async def test_password_length_limits_are_inclusive_code_points(
    client: httpx.AsyncClient, password: str
) -> None:
    response = await post_user(client, {"email": "len@example.com", "password": password})

    assert response.status_code == 201, response.text
    signed_in = await client.post(
        "/api/auth/tokens", json={"email": "len@example.com", "password": password}
    )
    assert signed_in.status_code == 200, signed_in.text


@pytest.mark.parametrize(
    "body",
    [
        {"email": "a@example.com"},
        {"password": PASSWORD},
        {},
        {"email": "not-an-email"},  # missing password beats the malformed e-mail
        {"password": "short"},
        {"email": None},
    ],
)
async def test_sign_up_without_a_required_field_is_err_002(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    assert_error(await post_user(client, body), *ERR_002)


async def test_sign_up_without_a_body_is_err_002(client: httpx.AsyncClient) -> None:
    assert_error(await client.post("/api/users"), *ERR_002)


@pytest.mark.parametrize(
    "body",
    [
        {"email": "plainaddress", "password": PASSWORD},
        {"email": "no-domain@", "password": PASSWORD},
        {"email": "@no-local.com", "password": PASSWORD},
        {"email": "two@@example.com", "password": PASSWORD},
        {"email": "sp ace@example.com", "password": PASSWORD},
        {"email": "a@" + "b" * 250 + ".com", "password": PASSWORD},
        {"email": "a@example.com", "password": "1234567"},
        {"email": "a@example.com", "password": "x" * 21},
        {"email": "a@example.com", "password": "가" * 21},
        {"email": None, "password": PASSWORD},
        {"email": "a@example.com", "password": None},
        {"email": 42, "password": PASSWORD},
        {"email": "a@example.com", "password": 12345678},
        {"email": "a@example.com", "password": True},
        {"email": {"v": "a@example.com"}, "password": PASSWORD},
        {"email": ["a@example.com"], "password": PASSWORD},
        [{"email": "a@example.com", "password": PASSWORD}],
        "a@example.com",
        42,
    ],
)
async def test_sign_up_with_a_malformed_field_is_err_003(
    client: httpx.AsyncClient, body: Any
) -> None:
    assert_error(await post_user(client, body), *ERR_003)


async def test_sign_up_with_unparseable_json_is_err_003(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/users", content=b'{"email": ', headers=JSON)
    assert_error(response, *ERR_003)


@pytest.mark.parametrize(
    "second", ["dup@example.com", "DUP@Example.COM"], ids=["same", "other-case"]
)
async def test_sign_up_with_a_registered_email_is_err_004(
    client: httpx.AsyncClient, second: str
) -> None:
    await register(client, "dup@example.com")
    assert_error(await post_user(client, {"email": second, "password": PASSWORD}), *ERR_004)


async def test_long_but_valid_email_is_stored_whole(client: httpx.AsyncClient) -> None:
    email = "a" * 64 + "@" + ".".join(["b" * 61] * 3) + ".com"  # 254 characters
    assert len(email) == 254

    response = await post_user(client, {"email": email, "password": PASSWORD})

    assert response.status_code == 201, response.text
    assert response.json()["email"] == email


async def test_err_003_beats_err_004(client: httpx.AsyncClient) -> None:
    await register(client, "dup@example.com")
    response = await post_user(client, {"email": "dup@example.com", "password": "short"})
    assert_error(response, *ERR_003)


# --- §7.2 own profile ---------------------------------------------------------------------


async def test_my_profile_is_the_signed_up_user(client: httpx.AsyncClient) -> None:
    created = await post_user(client, {"email": "me@example.com", "password": PASSWORD})
    tokens = await client.post(
        "/api/auth/tokens", json={"email": "me@example.com", "password": PASSWORD}
    )

    response = await client.get(
        "/api/users/me", headers={"Authorization": f"Bearer {tokens.json()['access_token']}"}
    )

    assert response.status_code == 200, response.text
    assert response.json() == created.json()


async def test_my_profile_with_trailing_slash_answers_without_redirect(
    client: httpx.AsyncClient,
) -> None:
    shopper = await sign_up(client)
    response = await shopper.request("GET", "/api/users/me/")
    assert response.status_code == 200, response.text


# --- §7.3 edit own profile ----------------------------------------------------------------


async def test_edit_profile_sets_every_field(client: httpx.AsyncClient) -> None:
    shopper = await sign_up(client)
    body = {
        "nickname": "와플이",
        "address": "서울시 관악구",
        "phone_number": "010-1234-5678",
        "email": "new-address@example.com",
    }

    response = await patch_me(shopper, body)

    assert response.status_code == 200, response.text
    assert response.json() == {"id": shopper.id, **body}
    assert await me(shopper) == {"id": shopper.id, **body}


async def test_edit_profile_leaves_absent_fields_unchanged(client: httpx.AsyncClient) -> None:
    shopper = await sign_up(client)
    assert (await patch_me(shopper, {"nickname": "와플이", "address": "관악"})).status_code == 200

    response = await patch_me(shopper, {"address": "서초"})

    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": shopper.id,
        "email": shopper.email,
        "nickname": "와플이",
        "address": "서초",
        "phone_number": None,
    }


async def test_edit_profile_ignores_undefined_keys_next_to_a_field(
    client: httpx.AsyncClient,
) -> None:
    shopper = await sign_up(client)

    response = await patch_me(shopper, {"nickname": "n", "id": "mine", "password": "x"})

    assert response.status_code == 200, response.text
    assert response.json()["id"] == shopper.id


@pytest.mark.parametrize(
    "body",
    [
        {"nickname": "가" * 20},
        {"nickname": "n" * 20},
        {"address": "가" * 100},
        {"phone_number": "010-0000-9999"},
    ],
    ids=["nickname-20-korean", "nickname-20-ascii", "address-100-korean", "phone"],
)
async def test_edit_profile_accepts_values_at_the_limits(
    client: httpx.AsyncClient, body: dict[str, str]
) -> None:
    shopper = await sign_up(client)

    response = await patch_me(shopper, body)

    assert response.status_code == 200, response.text
    assert (await me(shopper)).items() >= body.items()


async def test_keeping_own_email_is_not_a_conflict(client: httpx.AsyncClient) -> None:
    shopper = await sign_up(client)

    response = await patch_me(shopper, {"email": shopper.email, "nickname": "same"})

    assert response.status_code == 200, response.text
    assert response.json()["email"] == shopper.email


async def test_changed_email_is_the_new_sign_in(client: httpx.AsyncClient) -> None:
    shopper = await sign_up(client)
    assert (await patch_me(shopper, {"email": "moved@example.com"})).status_code == 200

    old = await client.post("/api/auth/tokens", json={"email": shopper.email, "password": PASSWORD})
    new = await client.post(
        "/api/auth/tokens", json={"email": "moved@example.com", "password": PASSWORD}
    )

    assert_error(old, *ERR_001)
    assert new.status_code == 200, new.text


async def test_a_changed_email_moves_its_uniqueness_with_it(client: httpx.AsyncClient) -> None:
    """The address's key follows the change: the new address is taken in any case, the old
    one is free again."""
    shopper = await sign_up(client)
    assert (await patch_me(shopper, {"email": "moved@example.com"})).status_code == 200

    taken = await post_user(client, {"email": "MOVED@Example.com", "password": PASSWORD})
    freed = await post_user(client, {"email": shopper.email.upper(), "password": PASSWORD})

    assert_error(taken, *ERR_004)
    assert freed.status_code == 201, freed.text


@pytest.mark.parametrize("case", [str.lower, str.upper], ids=["same-case", "other-case"])
async def test_taking_another_users_email_is_err_004(client: httpx.AsyncClient, case: Any) -> None:
    shopper, other = await sign_up_many(client, 2)

    response = await patch_me(shopper, {"email": case(other.email)})

    assert_error(response, *ERR_004)
    assert (await me(shopper))["email"] == shopper.email


async def test_edit_profile_without_a_body_is_err_002(client: httpx.AsyncClient) -> None:
    shopper = await sign_up(client)
    assert_error(await shopper.request("PATCH", "/api/users/me"), *ERR_002)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"unknown": "x"},
        {"password": "new-password1"},
        {"nickname": None},
        {"address": None},
        {"phone_number": None},
        {"email": None},
        {"nickname": "ok", "address": None},
        {"nickname": "가" * 21},
        {"nickname": "n" * 21},
        {"address": "가" * 101},
        {"email": "not-an-email"},
        {"nickname": 5},
        {"nickname": True},
        {"address": {"city": "서울"}},
        {"address": ["서울"]},
        {"phone_number": 1012345678},
        [{"nickname": "list"}],
        "nickname",
    ],
)
async def test_edit_profile_with_a_bad_body_is_err_003(
    client: httpx.AsyncClient, body: Any
) -> None:
    shopper = await sign_up(client)

    assert_error(await patch_me(shopper, body), *ERR_003)

    assert await me(shopper) == {
        "id": shopper.id,
        "email": shopper.email,
        "nickname": None,
        "address": None,
        "phone_number": None,
    }


@pytest.mark.parametrize(
    "phone",
    [
        "01012345678",
        "010-123-5678",
        "010-12345-678",
        "010-1234-56789",
        "011-1234-5678",
        "010 1234 5678",
        "010-abcd-5678",
        "+82-10-1234-5678",
        "010-1234-5678\n",
        " 010-1234-5678",
        "０１０-１２３４-５６７８",
        "٠١٠-١٢٣٤-٥٦٧٨",
        "010-١٢٣٤-5678",
        "",
    ],
    ids=[
        "no-dashes",
        "short-middle",
        "long-middle",
        "long-end",
        "not-010",
        "spaces",
        "letters",
        "country-code",
        "trailing-newline",
        "leading-space",
        "full-width-digits",
        "arabic-indic-digits",
        "mixed-digits",
        "empty",
    ],
)
async def test_phone_number_must_match_the_pattern(client: httpx.AsyncClient, phone: str) -> None:
    shopper = await sign_up(client)
    assert_error(await patch_me(shopper, {"phone_number": phone}), *ERR_003)


@pytest.mark.parametrize("content", [b"{nickname: 1}", b"null"], ids=["unparseable", "null"])
async def test_edit_profile_with_a_body_that_is_no_object_is_err_003(
    client: httpx.AsyncClient, content: bytes
) -> None:
    shopper = await sign_up(client)
    response = await shopper.request("PATCH", "/api/users/me", content=content, headers=JSON)
    assert_error(response, *ERR_003)


async def test_err_003_beats_err_004_on_edit(client: httpx.AsyncClient) -> None:
    shopper, other = await sign_up_many(client, 2)
    response = await patch_me(shopper, {"email": other.email, "phone_number": "010-1"})
    assert_error(response, *ERR_003)


# --- §7.4 and §7.5 own orders and reviews -------------------------------------------------


@pytest.mark.parametrize("path", ["/api/users/me/orders", "/api/users/me/reviews"])
async def test_own_lists_start_empty(client: httpx.AsyncClient, path: str) -> None:
    shopper = await sign_up(client)

    response = await shopper.request("GET", path)

    assert response.status_code == 200, response.text
    assert response.json() == []


async def test_own_orders_are_summaries_oldest_first(client: httpx.AsyncClient) -> None:
    _, _, [waffle] = await open_shop(client, ("와플", 10000, 10), delivery_fee=3000)
    buyer, other = await sign_up_many(client, 2)
    first = (await buyer.order((waffle["id"], 2))).json()
    second = (await buyer.order((waffle["id"], 1))).json()
    assert (await other.order((waffle["id"], 1))).status_code == 201
    canceled = await buyer.request(
        "PATCH", f"/api/orders/{first['order_id']}", json={"status": "CANCELED"}
    )
    assert canceled.status_code == 200, canceled.text

    response = await buyer.request("GET", "/api/users/me/orders")

    assert response.status_code == 200, response.text
    assert response.json() == [
        {"order_id": first["order_id"], "total_price": 23000, "status": "CANCELED"},
        {"order_id": second["order_id"], "total_price": 13000, "status": "ORDERED"},
    ]


async def test_own_reviews_are_listed_oldest_first(client: httpx.AsyncClient) -> None:
    _, _, [waffle, cake] = await open_shop(client, ("와플", 1000, 1), ("케이크", 2000, 1))
    writer, other = await sign_up_many(client, 2)
    await writer.set_nickname()
    await other.set_nickname("다른이")
    reviews = []
    for item, rating in [(cake, 4), (waffle, 5)]:
        created = await writer.request(
            "POST", f"/api/items/{item['id']}/reviews", json={"rating": rating, "comment": "맛"}
        )
        assert created.status_code == 201, created.text
        reviews.append(created.json()["review_id"])
    other_review = await other.request(
        "POST", f"/api/items/{waffle['id']}/reviews", json={"rating": 1, "comment": "별로"}
    )
    assert other_review.status_code == 201, other_review.text

    response = await writer.request("GET", "/api/users/me/reviews")

    assert response.status_code == 200, response.text
    assert response.json() == [
        {
            "review_id": reviews[0],
            "item_id": cake["id"],
            "item_name": "케이크",
            "comment": "맛",
            "rating": 4,
        },
        {
            "review_id": reviews[1],
            "item_id": waffle["id"],
            "item_name": "와플",
            "comment": "맛",
            "rating": 5,
        },
    ]


# --- authentication on every user endpoint ------------------------------------------------

USER_ENDPOINTS = [
    ("GET", "/api/users/me", None),
    ("PATCH", "/api/users/me", {"nickname": "와플이"}),
    ("GET", "/api/users/me/orders", None),
    ("GET", "/api/users/me/reviews", None),
]


@pytest.mark.parametrize(
    ("header", "expected"),
    [case[1:] for case in AUTH_CASES],
    ids=[case[0] for case in AUTH_CASES],
)
@pytest.mark.parametrize(
    ("method", "path", "body"), USER_ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in USER_ENDPOINTS]
)
async def test_user_endpoints_check_the_authorization_header(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    body: dict[str, str] | None,
    header: str | None,
    expected: tuple[int, str, str],
) -> None:
    shopper = await sign_up(client)
    headers = {}
    if header is not None:
        value = header.format(access=shopper.access_token, refresh=shopper.refresh_token)
        headers["Authorization"] = value

    response = await client.request(method, path, json=body, headers=headers)

    assert_error(response, *expected)


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
    [None, b"{oops", b"{}", b'{"nickname": null}'],
    ids=["none", "bad-json", "empty", "null"],
)
async def test_authentication_beats_body_errors_on_edit(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    expected: tuple[int, str, str],
    content: bytes | None,
) -> None:
    response = await client.patch("/api/users/me", content=content, headers={**JSON, **headers})
    assert_error(response, *expected)
