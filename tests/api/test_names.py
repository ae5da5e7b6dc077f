"""Review finding 15 over HTTP on both backends: names are NFKC-normalised, may hold no control
or format character and are never blank (ERR_003); store names that read the same after
normalisation are one name on both backends."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.api.shop import ERR_003, ERR_009, assert_error, sign_up, unique_phone

HIDDEN = ["a\u0000bc", "abc\u202edef", "\u200b\u200b\u200b", "   ", "ab\tcd", "ab\u2066cd"]


def _store(name: str) -> dict[str, object]:
    return {
        "store_name": name,
        "address": "서울시 관악구",
        "email": f"s-{uuid.uuid4().hex[:8]}@example.com",
        "phone_number": unique_phone(),
        "delivery_fee": 0,
    }


@pytest.mark.parametrize("name", HIDDEN, ids=["nul", "rlo", "zwsp", "spaces", "tab", "isolate"])
async def test_a_name_with_hidden_characters_or_blank_is_err_003(
    http: httpx.AsyncClient, name: str
) -> None:
    owner = await sign_up(http)

    assert_error(await owner.request("POST", "/api/stores", json=_store(name)), *ERR_003)
    assert_error(await owner.request("PATCH", "/api/users/me", json={"nickname": name}), *ERR_003)
    opened = await owner.request("POST", "/api/stores", json=_store(f"가게{unique_phone()}"))
    assert opened.status_code == 201, opened.text
    item = {"item_name": name, "price": 1, "stock": 1}
    assert_error(await owner.request("POST", "/api/items", json=item), *ERR_003)
    me = (await owner.request("GET", "/api/users/me")).json()
    assert me["nickname"] is None


async def test_names_are_stored_in_their_normal_form(http: httpx.AsyncClient) -> None:
    owner = await sign_up(http)
    tag = unique_phone()[-4:]

    store = await owner.request("POST", "/api/stores", json=_store(f"ＷＡＦＦＬＥ{tag}"))
    nickname = await owner.request("PATCH", "/api/users/me", json={"nickname": "ｗａｆｆｌｅ"})
    item = await owner.request(
        "POST", "/api/items", json={"item_name": "ｶﾌｪ ①", "price": 1, "stock": 1}
    )

    assert store.json()["store_name"] == f"WAFFLE{tag}"
    assert nickname.json()["nickname"] == "waffle"
    assert item.json()["item_name"] == "カフェ 1"


async def test_store_names_that_read_the_same_once_normalised_are_one_name(
    http: httpx.AsyncClient,
) -> None:
    first, second = await sign_up(http), await sign_up(http)
    tag = unique_phone()[-4:]
    made = await first.request("POST", "/api/stores", json=_store(f"waffle{tag}"))
    assert made.status_code == 201

    clash = await second.request("POST", "/api/stores", json=_store(f"ＷＡＦＦＬＥ{tag}"))

    assert_error(clash, *ERR_009)


async def test_a_name_that_grows_past_its_limit_when_normalised_is_err_003(
    http: httpx.AsyncClient,
) -> None:
    owner = await sign_up(http)
    # U+FDFA is one character that NFKC spells out in 18: 3 of them exceed 20.
    assert_error(await owner.request("POST", "/api/stores", json=_store("\ufdfa" * 3)), *ERR_003)
