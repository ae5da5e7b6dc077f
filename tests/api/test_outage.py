"""A database outage: JSON 503s instead of hangs or 500s, and recovery without a restart.

The app reaches MariaDB through a TCP proxy that the test cuts and restores, so the outage
is real at the network level while the shared server keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI

from tests.api.shop import assert_error, sign_up
from tests.databases import (
    MARIADB_HOST,
    MARIADB_PORT,
    mariadb_available,
    mariadb_database,
    mariadb_settings,
)
from tests.requirements import require
from wapang.api.main import create_app
from wapang.db.migrate import upgrade

pytestmark = pytest.mark.mariadb


class TcpProxy:
    """Forwards a loopback port to the database.

    `cut()` drops every connection and refuses new ones; with `stall` it accepts and never answers.
    """

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.stall = False

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._forward, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await self._server.wait_closed()

    async def _forward(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        if self.stall:  # accept, then never answer: a network that drops packets
            self._writers.add(client_writer)
            return
        db_reader, db_writer = await asyncio.open_connection(MARIADB_HOST, MARIADB_PORT)
        self._writers |= {client_writer, db_writer}
        await asyncio.gather(
            self._pipe(client_reader, db_writer), self._pipe(db_reader, client_writer)
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()
        self._writers.discard(writer)


@pytest.fixture(scope="module")
def outage_database() -> Iterator[str]:
    require(mariadb_available(), "MariaDB on 127.0.0.1:3306")
    with mariadb_database() as name:
        upgrade(mariadb_settings(name))
        yield name


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    forwarder = TcpProxy()
    await forwarder.start()
    yield forwarder
    with contextlib.suppress(Exception):
        await forwarder.cut()


@pytest.fixture
async def proxied_app(outage_database: str, proxy: TcpProxy) -> AsyncIterator[FastAPI]:
    settings = mariadb_settings(
        outage_database,
        DB_HOST="127.0.0.1",
        DB_PORT=proxy.port,
        DB_CONNECT_TIMEOUT=2,
        REQUEST_TIMEOUT=4,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def proxied_client(proxied_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=proxied_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://wapang.test") as http:
        yield http


async def test_outage_gives_json_503_and_the_service_recovers(
    proxied_client: httpx.AsyncClient, proxy: TcpProxy
) -> None:
    shopper = await sign_up(proxied_client)
    assert (await proxied_client.get("/readyz")).status_code == 200

    await proxy.cut()

    ready = await asyncio.wait_for(proxied_client.get("/readyz"), timeout=15)
    assert_error(ready, 503, "ERR_503", "SERVICE UNAVAILABLE")
    for method, path in [("GET", "/api/items"), ("GET", "/api/users/me"), ("GET", "/api/carts")]:
        response = await asyncio.wait_for(shopper.request(method, path), timeout=15)
        assert_error(response, 503, "ERR_503", "SERVICE UNAVAILABLE")
        assert response.headers["retry-after"] == "5"
    assert (await proxied_client.get("/healthz")).status_code == 200, "the process itself is alive"

    await proxy.start()

    assert (await proxied_client.get("/readyz")).status_code == 200
    me = await shopper.request("GET", "/api/users/me")
    assert me.status_code == 200
    assert me.json()["email"] == shopper.email


async def test_stalled_database_gives_json_503_not_a_hang(
    proxied_client: httpx.AsyncClient, proxy: TcpProxy
) -> None:
    shopper = await sign_up(proxied_client)
    proxy.stall = True
    await proxy.cut()
    await proxy.start()

    response = await asyncio.wait_for(shopper.request("GET", "/api/users/me"), timeout=30)
    assert_error(response, 503, "ERR_503", "SERVICE UNAVAILABLE")

    proxy.stall = False
    await proxy.cut()
    await proxy.start()
    recovered = await shopper.request("GET", "/api/users/me")
    assert recovered.status_code == 200
