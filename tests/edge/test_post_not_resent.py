"""The edge never sends one POST to the app twice (contract 14.4, security review finding 2): the
real nginx in front of two real apps on one database (a deploy's old and new one); the first
commits an order and dies before it answers. nginx must answer the client 502, not resend the
order to the second app: the database holds ONE order and the stock was taken once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from harness.apps import clean_env
from harness.processes import LOOPBACK, Service, free_port
from tests.api.shop import open_shop, sign_up
from tests.examples import TEST_SECRETS
from tests.servers import Server, wapang_server
from wapang.edge.nginx import Nginx
from wapang.edge.settings import EdgeSettings

from .fixtures import EdgeFactory
from .test_nginx_edge import tls_connection

pytestmark = pytest.mark.edge

REPO = Path(__file__).resolve().parents[2]


def _count(database: Path, query: str) -> int:
    with sqlite3.connect(database) as connection:
        value: int = connection.execute(query).fetchone()[0]
        return value


async def _shop(base_url: str) -> tuple[str, str]:
    """A seller with one item (stock 10) and a buyer: (item id, buyer's access token)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        _, _, (item,) = await open_shop(http, ("waffle", 1000, 10))
        buyer = await sign_up(http)
        return str(item["id"]), buyer.access_token


def _workers(master: int) -> set[str]:
    return set(Path(f"/proc/{master}/task/{master}/children").read_text().split())


def _reload_and_wait_for_old_workers(settings: EdgeSettings, master: int) -> None:
    """A reload returns before the old workers stop accepting: wait until they are gone, so the
    next connection is served with the new configuration."""
    old = _workers(master)
    Nginx(settings).reload()
    deadline = time.monotonic() + 15
    while old & _workers(master):
        assert time.monotonic() < deadline, "nginx's old workers did not exit"
        time.sleep(0.05)


def test_an_app_that_dies_after_committing_an_order_has_it_stored_once(
    make_edge: EdgeFactory, tmp_path: Path
) -> None:
    database = tmp_path / "shop.db"
    env = {"ENV": "test", "DB_DIALECT": "sqlite", "DB_DATABASE": str(database), **TEST_SECRETS}
    with wapang_server(tmp_path, **env) as second:  # migrates the SQLite file first
        port = free_port()
        first = Server(
            Service.start(
                "commit-then-hang",
                [
                    *(sys.executable, "-m", "uvicorn", "tests.edge.commit_then_hang:app"),
                    *("--host", LOOPBACK, "--port", str(port)),
                ],
                tmp_path / "first.log",
                env=clean_env(**env),
                cwd=REPO,
                stop_signal=signal.SIGKILL,
                port=port,
            ),
            f"http://{LOOPBACK}:{port}",
        )
        try:
            first.service.wait_ready(warm=0)
            item_id, token = asyncio.run(_shop(second.base_url))
            edge = make_edge(upstream=f"{LOOPBACK}:{port}")
            # The second app is where nginx goes when the first fails: as during a deploy, when
            # "app" resolves to the old and the new container.
            site = edge.prefix / "conf.d" / "wapang.conf"
            peer = f"server {LOOPBACK}:{port} max_fails=0;"
            backup = second.base_url.removeprefix("http://")
            site.write_text(
                site.read_text().replace(peer, f"{peer}\n    server {backup} max_fails=0 backup;")
            )
            _reload_and_wait_for_old_workers(edge.settings, edge.nginx.process.pid)

            answer: dict[str, object] = {}

            def order() -> None:
                connection = tls_connection(edge, timeout=60)
                body = json.dumps({"items": [{"item_id": item_id, "quantity": 1}]})
                connection.request(
                    "POST", "/api/orders", body=body,
                    headers={
                        "Host": edge.settings.domains[0],
                        "Authorization": f"Bearer {token}",
                        "Content-Type": "application/json",
                    },
                )  # fmt: skip
                response = connection.getresponse()
                answer.update(status=response.status, body=response.read())

            client = threading.Thread(target=order)
            client.start()
            deadline = time.monotonic() + 30
            while _count(database, "SELECT COUNT(*) FROM orders") == 0:
                assert time.monotonic() < deadline, first.output()
                time.sleep(0.05)
            os.kill(first.service.process.pid, signal.SIGKILL)  # committed, not answered
            client.join(timeout=60)

            assert answer["status"] == 502, answer
            assert json.loads(answer["body"]) == {  # type: ignore[arg-type]
                "error_code": "ERR_502",
                "error_msg": "BAD GATEWAY",
            }
            time.sleep(1)  # a resent order would be committed by now
            assert _count(database, "SELECT COUNT(*) FROM orders") == 1
            assert _count(database, "SELECT stock FROM items") == 9
        finally:
            first.stop()
