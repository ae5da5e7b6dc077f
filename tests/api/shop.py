"""A thin test driver for the API: sign-ups, tokens, stores and items in one call each."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

PASSWORD = "waffle-pass1"
_numbers = itertools.count(1000)


def unique_phone() -> str:
    number = next(_numbers)
    return f"010-{number // 10000 % 10000:04d}-{number % 10000:04d}"


# The contract's error table (spec §2): `assert_error(response, *ERR_013)`.
ERR_001 = (401, "ERR_001", "Invalid account credentials")
ERR_002 = (400, "ERR_002", "MISSING REQUIRED FIELDS")
ERR_003 = (400, "ERR_003", "INVALID FIELD FORMAT")
ERR_004 = (409, "ERR_004", "EMAIL ALREADY EXISTS")
ERR_005 = (401, "ERR_005", "UNAUTHENTICATED")
ERR_006 = (400, "ERR_006", "BAD AUTHORIZATION HEADER")
ERR_007 = (401, "ERR_007", "INVALID TOKEN")
ERR_008 = (409, "ERR_008", "STORE ALREADY EXISTS")
ERR_009 = (409, "ERR_009", "STORE INFO CONFLICT")
ERR_010 = (404, "ERR_010", "STORE NOT FOUND")
ERR_011 = (403, "ERR_011", "NO STORE OWNED")
ERR_012 = (403, "ERR_012", "NOT YOUR STORE")
ERR_013 = (404, "ERR_013", "ITEM NOT FOUND")
ERR_014 = (403, "ERR_014", "NOT YOUR ITEM")
ERR_015 = (422, "ERR_015", "NICKNAME NOT SET")
ERR_016 = (409, "ERR_016", "REVIEW ALREADY EXISTS")
ERR_017 = (409, "ERR_017", "NOT ENOUGH STOCK")
ERR_018 = (422, "ERR_018", "EMPTY ITEM LIST")
ERR_019 = (404, "ERR_019", "ORDER NOT FOUND")
ERR_020 = (403, "ERR_020", "NOT YOUR ORDER")
ERR_021 = (409, "ERR_021", "INVALID ORDER STATUS")
ERR_022 = (404, "ERR_022", "REVIEW NOT FOUND")
ERR_023 = (403, "ERR_023", "NOT YOUR REVIEW")
ERR_024 = (422, "ERR_024", "EMPTY ITEM LIST")


def assert_error(response: httpx.Response, status: int, code: str, message: str) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {"error_code": code, "error_msg": message}


@dataclass
class Shopper:
    """A signed-up user with a fresh token pair."""

    http: httpx.AsyncClient
    id: str
    email: str
    access_token: str
    refresh_token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    @property
    def refresh_auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.refresh_token}"}

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.auth, **kwargs.pop("headers", {})}
        return await self.http.request(method, path, headers=headers, **kwargs)

    async def set_nickname(self, nickname: str = "와플이") -> None:
        response = await self.request("PATCH", "/api/users/me", json={"nickname": nickname})
        assert response.status_code == 200, response.text

    async def open_store(self, delivery_fee: int = 3000, **fields: Any) -> dict[str, Any]:
        body = {
            "store_name": f"st-{uuid.uuid4().hex[:10]}",
            "address": "서울시 관악구",
            "email": f"shop-{uuid.uuid4().hex[:8]}@example.com",
            "phone_number": unique_phone(),
            "delivery_fee": delivery_fee,
            **fields,
        }
        response = await self.request("POST", "/api/stores", json=body)
        assert response.status_code == 201, response.text
        store: dict[str, Any] = response.json()
        return store

    async def add_item(
        self, name: str = "와플", price: int = 10000, stock: int = 15
    ) -> dict[str, Any]:
        response = await self.request(
            "POST", "/api/items", json={"item_name": name, "price": price, "stock": stock}
        )
        assert response.status_code == 201, response.text
        item: dict[str, Any] = response.json()
        return item

    async def order(self, *lines: tuple[str, int], **extra: Any) -> httpx.Response:
        """`POST /api/orders` of these (item id, quantity) lines, `extra` fields in the body."""
        body = {"items": [{"item_id": item_id, "quantity": qty} for item_id, qty in lines], **extra}
        return await self.request("POST", "/api/orders", json=body)


async def sign_up(
    http: httpx.AsyncClient, email: str | None = None, password: str = PASSWORD
) -> Shopper:
    email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
    created = await http.post("/api/users", json={"email": email, "password": password})
    assert created.status_code == 201, created.text
    tokens = await http.post("/api/auth/tokens", json={"email": email, "password": password})
    assert tokens.status_code == 200, tokens.text
    return Shopper(
        http=http,
        id=created.json()["id"],
        email=email,
        access_token=tokens.json()["access_token"],
        refresh_token=tokens.json()["refresh_token"],
    )


# --- helpers for the item, review, order and cart tests --------------------------------------

# (id, Authorization header or None, status, error_code, error_msg): §1.4 in its order.
# Authorization headers of a signed-up user's request, `{access}`/`{refresh}` filled with their
# tokens, and the error each must get.
AUTH_CASES = [
    ("absent", None, ERR_005),
    ("bare-token", "{access}", ERR_006),
    ("other-scheme", "Basic {access}", ERR_006),
    ("empty", "", ERR_006),
    ("scheme-only", "Bearer", ERR_006),
    ("three-parts", "Bearer {access} more", ERR_006),
    ("refresh-token", "Bearer {refresh}", ERR_007),
    ("garbage-token", "Bearer not-a-jwt", ERR_007),
]

AUTH_FAILURES: list[tuple[str, str | None, int, str, str]] = [
    ("absent", None, 401, "ERR_005", "UNAUTHENTICATED"),
    ("bare-token", "abc.def.ghi", 400, "ERR_006", "BAD AUTHORIZATION HEADER"),
    ("other-scheme", "Basic abc", 400, "ERR_006", "BAD AUTHORIZATION HEADER"),
    ("extra-part", "Bearer abc def", 400, "ERR_006", "BAD AUTHORIZATION HEADER"),
    ("forged-token", "Bearer not-a-jwt", 401, "ERR_007", "INVALID TOKEN"),
]


async def request_with_broken_auth(
    client: httpx.AsyncClient, method: str, path: str, header: str | None
) -> httpx.Response:
    """`path` ("{id}" filled with an unknown id) with this Authorization header (None: none) and
    a body that is not JSON: the authentication error must win over the body's."""
    headers = {} if header is None else {"Authorization": header}
    return await client.request(
        method, path.format(id=missing_id()), content=b"{not json", headers=headers
    )


UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def missing_id() -> str:
    """A well-formed id that names nothing."""
    return str(uuid.uuid4())


async def sign_up_many(http: httpx.AsyncClient, count: int) -> list[Shopper]:
    """Several users at once (the password hashing runs in worker threads)."""
    return list(await asyncio.gather(*(sign_up(http) for _ in range(count))))


async def open_shop(
    http: httpx.AsyncClient, *items: tuple[str, int, int], delivery_fee: int = 3000
) -> tuple[Shopper, dict[str, Any], list[dict[str, Any]]]:
    """A new seller with a store and the given (name, price, stock) items, added in order."""
    seller = await sign_up(http)
    store = await seller.open_store(delivery_fee=delivery_fee)
    added = [await seller.add_item(name, price, stock) for name, price, stock in items]
    return seller, store, added


async def every_page(http: httpx.AsyncClient, path: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Every row of a paged listing (contract 14.3), following its `Link: rel="next"`."""
    rows: list[dict[str, Any]] = []
    url: str | None = path
    while url is not None:
        response = await http.get(url, **kwargs)
        assert response.status_code == 200, response.text
        rows += response.json()
        url = response.links.get("next", {}).get("url")
    return rows


async def listed_item(http: httpx.AsyncClient, item_id: str) -> dict[str, Any] | None:
    """The item as `GET /api/items` lists it, or None when it is not listed."""
    listed = await every_page(http, "/api/items")
    return next((item for item in listed if item["id"] == item_id), None)


async def stock_of(http: httpx.AsyncClient, item_id: str) -> int:
    item = await listed_item(http, item_id)
    assert item is not None, f"item {item_id} is not listed"
    stock: int = item["stock"]
    return stock


async def set_cart_line(shopper: Shopper, item_id: str, quantity: int) -> httpx.Response:
    return await shopper.request(
        "PATCH", "/api/carts", json={"item_id": item_id, "quantity": quantity}
    )


async def my_orders(shopper: Shopper) -> list[dict[str, Any]]:
    response = await shopper.request("GET", "/api/users/me/orders")
    assert response.status_code == 200, response.text
    orders: list[dict[str, Any]] = response.json()
    return orders


def app_database(http: httpx.AsyncClient) -> Any:
    """The in-process app's `Database`, for reading or changing rows behind the API's back."""
    return http._transport.app.state.database  # type: ignore[attr-defined]


def app_settings(http: httpx.AsyncClient) -> Any:
    return http._transport.app.state.settings  # type: ignore[attr-defined]


async def execute(http: httpx.AsyncClient, statement: Any) -> None:
    """Run one SQLAlchemy statement (update, delete, ...) on the app's database and commit."""
    async with app_database(http).sessions() as session:
        await session.execute(statement)
        await session.commit()


async def fetch(http: httpx.AsyncClient, statement: Any) -> list[Any]:
    """The rows a SQLAlchemy select returns on the app's database."""
    async with app_database(http).sessions() as session:
        return list((await session.execute(statement)).all())


async def register(http: httpx.AsyncClient, email: str | None = None) -> dict[str, Any]:
    """Sign up only (no sign-in): the created User."""
    email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
    created = await http.post("/api/users", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    user: dict[str, Any] = created.json()
    return user


def forge_token(
    secret: str, algorithm: str = "HS256", *, kid: str | None = None, **claims: Any
) -> str:
    """A JWT with these claims plus the ones this deployment requires besides `sub` and `exp`
    (a claim passed as None is left out), named by `secret`'s key id unless `kid` is given
    (`kid=""`: none):
    `forge_token(key, sub=id, exp=now + 60)` is accepted when `key` is the deployment's."""
    import uuid

    import jwt

    from tests.examples import TEST_SECRETS
    from wapang.api.auth.tokens import key_id

    kind = "refresh" if secret == TEST_SECRETS["REFRESH_TOKEN_SECRET"] else "access"
    now = int(time.time())
    required = {
        "iat": now,
        "jti": uuid.uuid4().hex,
        "typ": kind,
        "iss": "wapang",
        "aud": "wapang-api",
        "ver": 0,
        "sid": uuid.uuid4().hex,
        "auth_time": now,
    }
    payload = {name: value for name, value in (required | claims).items() if value is not None}
    headers = None if kid == "" else {"kid": kid or key_id(secret)}
    return jwt.encode(payload, secret, algorithm=algorithm, headers=headers)


def token_claims(token: str, secret: str) -> dict[str, Any]:
    """A token's verified claims (signature and expiry; the audience is the server's concern)."""
    import jwt

    claims: dict[str, Any] = jwt.decode(
        token, secret, algorithms=["HS256"], options={"verify_aud": False}
    )
    return claims


def unsigned_token(**claims: Any) -> str:
    """A JWT with `alg: none` and an empty signature."""
    import base64
    import json

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."
