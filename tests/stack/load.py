"""A bounded load generator: HTTPS reads and writes through the stack's nginx on loopback, at a
fixed rate, half on kept-alive connections and half on a new connection per request."""

from __future__ import annotations

import secrets
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

MAX_SECONDS = 180  # default bound: the load never outlives the test that runs it
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
        self,
        client: httpx.Client,
        method: str,
        path: str,
        trace: Callable[[str, object], None] | None = None,
        **options: object,
    ) -> httpx.Response:
        extensions: dict[str, object] = {"sni_hostname": self.domain}
        if trace is not None:
            extensions["trace"] = trace  # httpcore's connection events
        return client.request(
            method,
            path,
            extensions=extensions,
            **options,  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class Failure:
    """A request that did not get its success status: when (to match deploy.sh's log lines),
    what, and the answer (None: no HTTP answer at all, `error` says why)."""

    at: datetime
    request: str
    status: int | None = None
    content_type: str = ""
    body: str = ""
    error: str = ""

    @property
    def is_json_503(self) -> bool:
        """The app's own answer while its database is away: the contract's JSON error."""
        return (
            self.status == 503
            and self.content_type.startswith("application/json")
            and '"error_code"' in self.body
        )

    def __str__(self) -> str:
        answer = f"{self.status} {self.content_type} {self.body[:80]}" if self.status else ""
        return f"{self.at:%H:%M:%S.%f} {self.request} {answer or self.error}"


@dataclass
class LoadResult:
    sent: int = 0
    # Requests sent again on a new connection because the kept-alive one they were sent on was
    # closed by the server before any answer (see Load._one): counted, never hidden.
    resent: int = 0
    created: int = 0  # writes answered 201: each must be exactly one item in the database
    statuses: Counter[int | str] = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def failed(self) -> int:
        return len(self.failures)

    def summary(self) -> str:
        shown = "\n  ".join(str(f) for f in self.failures[:20])
        return f"{self.failed} of {self.sent} requests failed:\n  {shown}"


class Load:
    """`with Load(site, rate=50): deploy()` → result: every request and every failure."""

    def __init__(self, site: Site, rate: float = 50, max_seconds: float = MAX_SECONDS) -> None:
        self.site, self.rate, self.max_seconds = site, rate, max_seconds
        self.result = LoadResult()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._token, self._store_id = self._setup()
        self._threads = [
            threading.Thread(target=self._worker, args=(n,), daemon=True) for n in range(WORKERS)
        ]

    def _setup(self) -> tuple[str, str]:
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
        return token, str(store.json()["id"])

    def items_stored(self) -> int:
        """The items the load's writes left in the database (its store's listing): equal to
        `result.created` when no answered write was lost and no resent one was stored twice."""
        stored, page = 0, f"/api/stores/{self._store_id}/items?limit=500"
        with self.site.client() as client:
            while page:  # the listing is paged (contract 14.3): follow rel="next" to the end
                listed = self.site.request(client, "GET", page)
                assert listed.status_code == 200, listed.text
                stored += len(listed.json())
                following = listed.links.get("next", {}).get("url")
                page = httpx.URL(following).raw_path.decode() if following else ""
        return stored

    def __enter__(self) -> Load:
        self._deadline = time.monotonic() + self.max_seconds
        self.result.started = datetime.now(UTC)
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
        """One request, as a user agent sends it. HTTP/1.1 lets a server close an idle kept-alive
        connection at any moment (nginx does at every reload: its old workers close their idle
        client connections), so a request written into it at that instant gets no answer at all.
        User agents resend such a request once on a new connection (RFC 9112 §9.3.1; browsers,
        OkHttp); so does this one, only when the connection was a reused one and no byte of an
        answer came. Everything else counts as failed: error statuses, timeouts, a refused or
        broken new connection, a second failure."""
        method, path = ("POST", "/api/items") if write else ("GET", "/api/items")
        failure = None
        try:
            try:
                response = self._send(client, method, path, write)
            except (httpx.RemoteProtocolError, httpx.ReadError) as stale:
                if not getattr(stale, "reused_connection", False):
                    raise
                with self._lock:
                    self.result.resent += 1
                response = self._send(client, method, path, write)
            outcome: int | str = response.status_code
            if response.status_code != (201 if write else 200):
                failure = Failure(
                    datetime.now(UTC),
                    f"{method} {path}",
                    response.status_code,
                    response.headers.get("content-type", ""),
                    response.text[:200],
                )
        except httpx.HTTPError as error:
            outcome = type(error).__name__
            failure = Failure(
                datetime.now(UTC), f"{method} {path}", error=f"{type(error).__name__}: {error}"
            )
        with self._lock:
            self.result.sent += 1
            self.result.statuses[outcome] += 1
            if write and outcome == 201:
                self.result.created += 1
            if failure:
                self.result.failures.append(failure)

    def _send(self, client: httpx.Client, method: str, path: str, write: bool) -> httpx.Response:
        """The response. A failure without any answer on a reused connection (no TCP connect
        for this request) is marked `reused_connection` for _one."""
        events: list[str] = []
        options: dict[str, object] = {}
        if write:
            options = {
                "headers": {"Authorization": f"Bearer {self._token}"},
                "json": {"item_name": "load item", "price": 100, "stock": 1},
            }
        try:
            response = self.site.request(
                client, method, path, trace=lambda name, _info: events.append(name), **options
            )
        except (httpx.RemoteProtocolError, httpx.ReadError) as error:
            answered = any(e.startswith("http11.receive_response_headers.complete") for e in events)
            connected = any(e.startswith("connection.connect_tcp") for e in events)
            error.reused_connection = not connected and not answered  # type: ignore[union-attr]
            raise
        return response
