"""Review finding 15 over HTTP on both backends: names are NFKC-normalised, may hold no control
or format character and are never blank (ERR_003); store names that read the same after
normalisation are one name on both backends."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from tests.api.shop import (
    ERR_003,
    ERR_004,
    ERR_009,
    PASSWORD,
    assert_error,
    sign_up,
    unique_phone,
)
from wapang.api.errors import _CONFLICTS
from wapang.api.stores.errors import StoreInfoConflict
from wapang.api.stores.models import Store
from wapang.api.users.models import User
from wapang.config import Settings
from wapang.db.constraints import violated_constraint
from wapang.db.engine import build_engine

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


# (first name, second name, whether they are one name): one normalised key on both backends
# (NFKC, then Unicode case folding), so letter case is no difference in any script, accents
# and different symbols are.
SAME_OR_NOT = [
    ("café", "CAFÉ", True),
    ("straße", "STRASSE", True),
    ("σοφός", "ΣΟΦΌΣ", True),
    ("ｃａｆé", "Café", True),
    ("cafe", "café", False),
    ("🍩🍩🍩", "🍪🍪🍪", False),
    ("가게", "가계", False),
]


@pytest.mark.parametrize(("first", "second", "same"), SAME_OR_NOT)
async def test_store_names_are_one_name_exactly_when_their_keys_are_equal(
    http: httpx.AsyncClient, first: str, second: str, same: bool
) -> None:
    owners = [await sign_up(http) for _ in range(3)]
    tag = unique_phone()[-4:]
    made = await owners[0].request("POST", "/api/stores", json=_store(f"{first}{tag}"))
    assert made.status_code == 201, made.text

    created = await owners[1].request("POST", "/api/stores", json=_store(f"{second}{tag}"))
    other = (await owners[2].request("POST", "/api/stores", json=_store(f"x{tag}"))).json()
    renamed = await owners[2].request(
        "PATCH", f"/api/stores/{other['id']}", json={"store_name": f"{second}{tag}"}
    )

    if same:
        assert_error(created, *ERR_009)
        assert_error(renamed, *ERR_009)
    else:
        assert created.status_code == 201, created.text
        assert_error(renamed, *ERR_009)  # now the second name is taken


@pytest.mark.parametrize(("first", "second"), [("café", "CAFÉ"), ("straße", "STRASSE")])
async def test_two_names_equal_once_normalised_created_at_once_one_wins(
    http: httpx.AsyncClient, first: str, second: str
) -> None:
    owners = [await sign_up(http) for _ in range(8)]
    tag = unique_phone()[-4:]
    names = [f"{first}{tag}", f"{second}{tag}"] * 4

    answers = await asyncio.gather(
        *(
            owner.request("POST", "/api/stores", json=_store(name))
            for owner, name in zip(owners, names, strict=True)
        )
    )

    assert sorted(answer.status_code for answer in answers) == [201] + [409] * 7
    for answer in answers:
        if answer.status_code == 409:
            assert_error(answer, *ERR_009)


async def test_a_race_lost_on_the_name_key_is_err_009(settings: Settings) -> None:
    """Two stores whose names differ but whose keys are equal, inserted past the service's
    check (as a lost race is): the key's unique constraint refuses the second, and its name
    maps to ERR_009 on both backends."""
    engine = build_engine(settings)
    owners = [str(uuid.uuid4()) for _ in range(2)]
    tag = unique_phone()[-4:]
    try:
        async with engine.begin() as connection:
            for number, (owner, name) in enumerate(zip(owners, ["straße", "STRASSE"], strict=True)):
                await connection.execute(
                    insert(User).values(id=owner, email=f"{owner}@example.com", hashed_password="x")
                )
                store = Store(store_name=f"{name}{tag}")  # the model sets the key
                values = {
                    "id": owner,
                    "owner_id": owner,
                    "store_name": store.store_name,
                    "store_name_key": store.store_name_key,
                    "address": "서울",
                    "email": f"{owner}@example.com",
                    "phone_number": unique_phone(),
                    "delivery_fee": 0,
                }
                if number == 0:
                    await connection.execute(insert(Store).values(**values))
                    continue
                with pytest.raises(IntegrityError) as raised:
                    await connection.execute(insert(Store).values(**values))
            await connection.rollback()
    finally:
        await engine.dispose()

    constraint = violated_constraint(raised.value)
    assert constraint == "uq_stores_store_name_key"
    assert _CONFLICTS[constraint] is StoreInfoConflict


# --- e-mail addresses: the same key ----------------------------------------------------------

SAME_ADDRESS_OR_NOT = [
    ("café", "CAFÉ", True),
    ("straße", "STRASSE", True),
    ("cafe", "CAFE", True),
    ("cafe", "café", False),
]


@pytest.mark.parametrize(("first", "second", "same"), SAME_ADDRESS_OR_NOT)
async def test_addresses_are_one_address_exactly_when_their_keys_are_equal(
    http: httpx.AsyncClient, first: str, second: str, same: bool
) -> None:
    tag = uuid.uuid4().hex[:8]
    address, other_address = f"{first}{tag}@example.com", f"{second}{tag}@example.com"
    made = await http.post("/api/users", json={"email": address, "password": PASSWORD})
    assert made.status_code == 201, made.text
    owner = await sign_up(http)
    opened = await owner.request(
        "POST", "/api/stores", json=_store("x" + tag[:6]) | {"email": address}
    )
    assert opened.status_code == 201, opened.text

    second_user = await http.post("/api/users", json={"email": other_address, "password": PASSWORD})
    other_owner = await sign_up(http)
    other_store = _store("y" + tag[:6]) | {"email": other_address}
    second_store = await other_owner.request("POST", "/api/stores", json=other_store)
    signed_in = await http.post(
        "/api/auth/tokens", json={"email": other_address, "password": PASSWORD}
    )

    if same:
        assert_error(second_user, *ERR_004)
        assert_error(second_store, *ERR_009)
        assert signed_in.status_code == 200, signed_in.text  # the first account, by its key
        assert await _signed_in_as(http, signed_in) == made.json()["id"]
    else:
        assert second_user.status_code == 201, second_user.text
        assert second_store.status_code == 201, second_store.text
        assert await _signed_in_as(http, signed_in) == second_user.json()["id"]


async def _signed_in_as(http: httpx.AsyncClient, signed_in: httpx.Response) -> str:
    assert signed_in.status_code == 200, signed_in.text
    token = signed_in.json()["access_token"]
    me = await http.get("/api/users/me", headers={"Authorization": f"Bearer {token}"})
    user_id: str = me.json()["id"]
    return user_id


async def test_two_addresses_equal_once_normalised_signed_up_at_once_one_wins(
    http: httpx.AsyncClient,
) -> None:
    tag = uuid.uuid4().hex[:8]
    addresses = [f"straße{tag}@example.com", f"STRASSE{tag}@example.com"] * 4

    answers = await asyncio.gather(
        *(http.post("/api/users", json={"email": a, "password": PASSWORD}) for a in addresses)
    )

    assert sorted(answer.status_code for answer in answers) == [201] + [409] * 7
    for answer in answers:
        if answer.status_code == 409:
            assert_error(answer, *ERR_004)
