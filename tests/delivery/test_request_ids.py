"""One request through the real nginx (the production template, on loopback) to the real app
(`wapang serve`, LOG_FORMAT=json): nginx makes the request's id, passes it as X-Request-ID and
returns it, and the same id is in nginx's JSON access log line and in the app's request line.
The app's /metrics is never served through the edge, however the path is spelt."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.processes import LOOPBACK
from wapang.delivery.pki import issue, make_authority

from .conftest import SITE, App, EdgeStarter, LocalEdge, start_app

NGINX_REQUEST_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture(scope="module")
def json_app(delivery_root: Path) -> Iterator[App]:
    app = start_app(
        delivery_root,
        "api-json-logs",
        DB_DIALECT="sqlite",
        DB_DATABASE=str(delivery_root / "request-ids.db"),
        LOG_FORMAT="json",
    )
    yield app
    app.service.stop()


@pytest.fixture
def edge(start_edge: EdgeStarter, json_app: App, tmp_path: Path) -> LocalEdge:
    authority = make_authority("wapang request-id CA")
    return start_edge(issue(authority, [SITE], tmp_path / "tls"), json_app.port)


def through(edge: LocalEdge, path: str, **kwargs: Any) -> httpx.Response:
    """A request to the edge on loopback, by name (SNI and Host), certificate unchecked: the
    subject here is the request, not the chain (test_verify.py checks that)."""
    transport = httpx.HTTPTransport(verify=False)
    with httpx.Client(transport=transport, timeout=10) as client:
        return client.get(
            f"https://{LOOPBACK}:{edge.https_port}{path}",
            headers={"Host": SITE, **kwargs.pop("headers", {})},
            extensions={"sni_hostname": SITE},
            **kwargs,
        )


def logged(path: Path, predicate: Any, timeout: float = 10) -> dict[str, Any]:
    """The first JSON line of the log that matches (logs are written just after the answer)."""
    deadline = time.monotonic() + timeout
    while True:
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                entry: dict[str, Any] = json.loads(line)
                if predicate(entry):
                    return entry
        if time.monotonic() > deadline:
            raise AssertionError(f"no matching line in {path}:\n{path.read_text()[-3000:]}")
        time.sleep(0.1)


def test_one_request_has_the_edges_id_in_both_logs(edge: LocalEdge, json_app: App) -> None:
    forged = "forged-by-the-client"
    response = through(edge, "/api/stores/no-such-store", headers={"X-Request-ID": forged})
    assert response.status_code == 404
    request_ids = response.headers.get_list("X-Request-ID")
    assert len(request_ids) == 1, request_ids  # nginx's, not the app's echo beside it
    request_id = request_ids[0]
    assert NGINX_REQUEST_ID.fullmatch(request_id), request_id  # the edge's, not the client's

    assert edge.prefix is not None
    access = logged(edge.prefix / "logs" / "access.log", lambda e: e["request_id"] == request_id)
    assert access["status"] == 404
    assert access["uri"] == "/api/stores/no-such-store"
    assert access["upstream_addr"] == f"{LOOPBACK}:{json_app.port}"
    assert access["upstream_status"] == "404"
    assert float(access["request_time"]) >= 0

    app_line = logged(json_app.service.log, lambda e: e.get("request_id") == request_id)
    assert app_line["logger"] == "wapang.request"
    assert app_line["route"] == "/api/stores/{store_id}"
    assert app_line["client"] == LOOPBACK  # the address nginx saw (X-Forwarded-For)
    assert not any(forged in line for line in json_app.service.log.read_text().splitlines())


def test_metrics_are_never_served_through_the_edge(edge: LocalEdge, json_app: App) -> None:
    direct = httpx.get(f"http://{LOOPBACK}:{json_app.port}/metrics", timeout=10)
    assert direct.status_code == 200
    assert "http_requests_total" in direct.text
    for path in ("/metrics", "/metrics/", "//metrics", "/%6Detrics", "/metrics?x", "/./metrics"):
        response = through(edge, path)
        assert response.status_code == 404, path
        assert response.json() == {"error_code": "ERR_404", "error_msg": "NOT FOUND"}
        assert NGINX_REQUEST_ID.fullmatch(response.headers["X-Request-ID"])
