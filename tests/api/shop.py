"""A thin test driver for the API: sign-ups, tokens, stores and items in one call each."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

PASSWORD = "waffle-pass1"
_numbers = itertools.count(1000)


def unique_phone() -> str:
    number = next(_numbers)
    return f"010-{number // 10000 % 10000:04d}-{number % 10000:04d}"


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

    async def order(self, *lines: tuple[str, int]) -> httpx.Response:
        body = {"items": [{"item_id": item_id, "quantity": qty} for item_id, qty in lines]}
        return await self.request("POST", "/api/orders", json=body)


async def sign_up(http: httpx.AsyncClient, email: str | None = None, password: str = PASSWORD) -> Shopper:
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
