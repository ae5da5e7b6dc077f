"""A bounded load generator: HTTPS reads and writes through the stack's nginx on loopback, at a
fixed rate, half on kept-alive connections and half on a new connection per request."""

from __future__ import annotations

import secrets
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

MAX_SECONDS = 180  # a deploy that takes longer fails its own test; the load never outlives it
WORKERS = 10


@dataclass
class Site:
    https_port: int
    domain: str
    root_ca: Path

    def client(self) -> httpx.Client:
        # The site's name over loopback: connect to 127.0.0.1, Host and SNI stay the name.
        return httpx.Client(
            base_url=f"https://127.0.0.1:{self.https_port}",
            headers={"Host": self.domain},
            verify=ssl.create_default_context(cafile=str(self.root_ca)),
            timeout=15,
        )

    def request(
        self, client: httpx.Client, method: str, path: str, **options: object
    ) -> httpx.Response:
        return client.request(
            method,
            path,
            extensions={"sni_hostname": self.domain},
            **options,  # type: ignore[arg-type]
        )


@dataclass
class LoadResult:
    sent: int = 0
    statuses: Counter[int | str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.failures)


class Load:
    """`with Load(site, rate=50): deploy()` → result: every request and every failure."""

    def __init__(self, site: Site, rate: float = 50) -> None:
        self.site, self.rate = site, rate
        self.result = LoadResult()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._token = self._setup()
        self._threads = [
            threading.Thread(target=self._worker, args=(n,), daemon=True) for n in range(WORKERS)
        ]

    def _setup(self) -> str:
        """A user with a store, so the writes (new items) are authenticated, cheap requests."""
        email, password = (
            f"load+{secrets.token_hex(4)}@{self.site.domain}",
            secrets.token_hex(8),
        )  # 8-20 characters
        with self.site.client() as client:
            account = {"email": email, "password": password}
            signed_up = self.site.request(client, "POST", "/api/users", json=account)
            assert signed_up.status_code == 201, signed_up.text
            tokens = self.site.request(client, "POST", "/api/auth/tokens", json=account)
            assert tokens.status_code == 200, tokens.text
            token = str(tokens.json()["access_token"])
            store = self.site.request(
                client,
                "POST",
                "/api/stores",
                headers={"Authorization": f"Bearer {token}"},
                json={
                    "store_name": f"load{secrets.token_hex(3)}",
                    "address": "loopback",
                    "email": email,
                    "phone_number": f"010-1234-{secrets.randbelow(9000) + 1000}",  # unique
                    "delivery_fee": 0,
                },
            )
            assert store.status_code == 201, store.text
        return token

    def __enter__(self) -> Load:
        self._deadline = time.monotonic() + MAX_SECONDS
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _worker(self, number: int) -> None:
        interval = WORKERS / self.rate
        keep_alive = number % 2 == 0
        client = self.site.client()
        next_at = time.monotonic()
        sent = 0
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            if not keep_alive:
                client.close()
                client = self.site.client()
            self._one(client, write=sent % 5 == number % 5)  # one request in five is a write
            sent += 1
            next_at += interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))
        client.close()

    def _one(self, client: httpx.Client, write: bool) -> None:
        try:
            if write:
                response = self.site.request(
                    client,
                    "POST",
                    "/api/items",
                    headers={"Authorization": f"Bearer {self._token}"},
                    json={"item_name": "load item", "price": 100, "stock": 1},
                )
                ok = response.status_code == 201
            else:
                response = self.site.request(client, "GET", "/api/items")
                ok = response.status_code == 200
            outcome: int | str = response.status_code
            problem = None if ok else f"{response.request.method} {response.status_code}"
        except httpx.HTTPError as error:
            outcome, problem = type(error).__name__, f"{type(error).__name__}: {error}"
        with self._lock:
            self.result.sent += 1
            self.result.statuses[outcome] += 1
            if problem:
                self.result.failures.append(problem)
