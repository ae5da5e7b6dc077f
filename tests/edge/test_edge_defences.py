"""The edge's defences (contract 14.2, 14.4, 14.7; security review findings 2, 3, 8, 11), with the
real nginx in front of the echo upstream: sign-in and sign-up limited per address with the
contract's JSON 429, the body limit of the app refused at the edge, no foreign Host redirected or
served, internal endpoints not served, one copy of each security header."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.processes import LOOPBACK
from tests.examples import TEST_SECRETS
from tests.servers import wapang_server
from wapang.config import Settings
from wapang.edge.settings import EdgeSettings

from .fixtures import EdgeFactory, Rig
from .rig import Edge
from .test_nginx_edge import tls_connection

pytestmark = pytest.mark.edge

Answer = tuple[int, http.client.HTTPMessage, bytes]


def https_session(edge: Edge) -> Callable[..., Answer]:
    """Requests on one kept-alive TLS connection (SNI and Host: the site's name), as a client
    that signs in again and again does."""
    name = edge.settings.domains[0]
    connection = tls_connection(edge)

    def send(method: str, path: str, body: bytes | None = None, **headers: str) -> Answer:
        connection.request(method, path, body=body, headers={"Host": name, **headers})
        response = connection.getresponse()
        return response.status, response.headers, response.read()

    return send


def seen(rig: Rig, path: str) -> int:
    """How many requests for `path` reached the upstream."""
    connection = http.client.HTTPConnection(LOOPBACK, rig.upstream_port, timeout=5)
    try:
        connection.request("GET", f"/seen?path={path}")
        count: int = json.loads(connection.getresponse().read())["seen"]
        return count
    finally:
        connection.close()


def plain_http_raw(edge: Edge, request: bytes) -> bytes:
    """A raw HTTP/1.1 exchange on port 80: b"" when nginx closed without an answer (444)."""
    with socket.create_connection((LOOPBACK, edge.settings.http_port), timeout=5) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


# ---- throttling at the edge (14.2) -------------------------------------------------------------


def _is_contract_429(answer: Answer, retry_after: str) -> bool:
    status, headers, body = answer
    return (
        status == 429
        and headers["Content-Type"] == "application/json"
        and json.loads(body) == {"error_code": "ERR_025", "error_msg": "TOO MANY REQUESTS"}
        and headers["Retry-After"] == retry_after
        and headers["Strict-Transport-Security"].startswith("max-age=63072000")
        and headers["X-Content-Type-Options"] == "nosniff"
    )


@pytest.mark.parametrize("path", ["/api/auth/tokens", "/api/users"], ids=["signin", "signup"])
def test_sign_in_and_sign_up_get_the_contract_429_after_the_default_burst(
    make_edge: EdgeFactory, rig: Rig, path: str
) -> None:
    edge = make_edge()  # the defaults: 10 a minute, a burst of 20
    assert (edge.settings.auth_rate_limit, edge.settings.auth_rate_burst) == ("10r/m", 20)
    send = https_session(edge)
    before = seen(rig, path)
    answers = [send("POST", path, b"{}", **{"Content-Type": "application/json"}) for _ in range(25)]

    assert [status for status, _, _ in answers[:21]] == [200] * 21  # 1 + the burst
    assert all(_is_contract_429(answer, "6") for answer in answers[21:]), answers[21]
    assert seen(rig, path) - before == 21  # the limited ones never reached the app
    # The trailing-slash form (the app serves /x/ as /x) shares the same count.
    assert _is_contract_429(send("POST", path + "/", b"{}"), "6")
    # Reads of the same paths and other writes from the same address are not limited.
    assert {send("GET", path)[0] for _ in range(5)} == {200}
    assert send("POST", "/api/orders", b"{}")[0] == 200
    # Another address has its own count: nginx keys on the connection's address, never on a
    # client header.
    assert _is_contract_429(send("POST", path, b"{}", **{"X-Forwarded-For": "10.9.8.7"}), "6")


def test_the_limit_is_configurable_and_can_be_turned_off(make_edge: EdgeFactory) -> None:
    edge = make_edge(auth_rate_limit="2r/s", auth_rate_burst=1)
    send = https_session(edge)
    statuses = [send("POST", "/api/auth/tokens", b"{}")[0] for _ in range(4)]
    assert statuses == [200, 200, 429, 429]
    assert send("POST", "/api/auth/tokens", b"{}")[1]["Retry-After"] == "1"
    edge.nginx.stop()

    unlimited = make_edge(auth_rate_limit="off")
    send = https_session(unlimited)
    assert {send("POST", "/api/users", b"{}")[0] for _ in range(40)} == {200}


def test_readyz_is_served_but_limited_per_address(make_edge: EdgeFactory) -> None:
    edge = make_edge()
    send = https_session(edge)
    statuses = [send("GET", "/readyz")[0] for _ in range(14)]
    assert statuses[:11] == [200] * 11  # 1 + a burst of 10
    assert set(statuses[11:]) == {429}
    assert _is_contract_429(send("GET", "/readyz"), "1")


# ---- the body limit is the app's (14.7) --------------------------------------------------------


def test_the_edge_body_limit_is_the_apps_setting() -> None:
    default = Settings.model_fields["MAX_REQUEST_BODY_BYTES"].default
    assert EdgeSettings(domains=["a.example.com"]).max_request_body_bytes == default
    assert (
        EdgeSettings(domains=["a.example.com"], max_request_body_bytes=5000).model_dump()[
            "max_request_body_bytes"
        ]
        == 5000
    )


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_apps_limit_is_a_json_413_from_the_edge_and_never_reaches_the_app(
    make_edge: EdgeFactory, rig: Rig, chunked: bool
) -> None:
    limit = 2048
    edge = make_edge(max_request_body_bytes=limit, auth_rate_limit="off")
    path = f"/api/users-{'chunked' if chunked else 'length'}"
    connection = tls_connection(edge)
    body = b"x" * (limit + 1)
    try:
        if chunked:
            connection.request(
                "POST", path, body=iter([body[:1000], body[1000:]]), encode_chunked=True,
                headers={"Host": edge.settings.domains[0], "Transfer-Encoding": "chunked"},
            )  # fmt: skip
        else:
            connection.request("POST", path, body=body, headers={"Host": edge.settings.domains[0]})
        response = connection.getresponse()
        status, headers, answer = response.status, response.headers, response.read()
    finally:
        connection.close()
    assert status == 413
    assert headers["Content-Type"] == "application/json"
    assert json.loads(answer) == {"error_code": "ERR_413", "error_msg": "PAYLOAD TOO LARGE"}
    assert seen(rig, path) == 0

    # Exactly the limit is the app's to read, once.
    send = https_session(edge)
    assert send("POST", path, b"x" * limit)[0] == 200
    assert seen(rig, path) == 1


# ---- names: nothing for a Host that is not the site's (finding 8) ------------------------------


def test_the_redirect_goes_to_the_configured_name_never_the_clients(make_edge: EdgeFactory) -> None:
    edge = make_edge(domain="primary.wapang.test")
    edge.nginx.stop()
    edge = make_edge(domains=["primary.wapang.test", "www.wapang.test"])
    port = edge.settings.https_port

    def head(host: bytes, target: bytes = b"/api/items?x=1") -> bytes:
        head = b"GET " + target + b" HTTP/1.1\r\nHost: " + host
        return plain_http_raw(edge, head + b"\r\nConnection: close\r\n\r\n")

    expected = f"Location: https://primary.wapang.test:{port}/api/items?x=1\r\n".encode()
    for host in (b"primary.wapang.test", b"www.wapang.test", b"WWW.wapang.test."):
        answer = head(host)
        assert answer.startswith(b"HTTP/1.1 301"), answer[:200]
        assert expected in answer, answer[:400]
    # A foreign Host, no Host at all (HTTP/1.0) or an absolute URI naming another host: no
    # answer at all (444), so no Location to poison a cache with.
    assert head(b"evil.example") == b""
    assert head(b"primary.wapang.test", b"http://evil.example/api/items") == b""
    assert plain_http_raw(edge, b"GET /api/items HTTP/1.0\r\n\r\n") == b""
    assert head(b"evil.example", b"/.well-known/acme-challenge/token") == b""


def test_an_unknown_name_on_443_is_refused_at_the_handshake(make_edge: EdgeFactory) -> None:
    edge = make_edge()
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    for server_name in ("evil.example", None):  # a foreign SNI name, or none (an IP address)
        with (
            socket.create_connection((LOOPBACK, edge.settings.https_port), timeout=5) as raw,
            pytest.raises(ssl.SSLError, match=r"UNRECOGNIZED_NAME|HANDSHAKE_FAILURE"),
        ):
            context.wrap_socket(raw, server_hostname=server_name)
    # The site's name still works, and a foreign Host on its connection gets no answer.
    send = https_session(edge)
    assert send("GET", "/echo")[0] == 200
    connection = tls_connection(edge)
    connection.request("GET", "/echo", headers={"Host": "evil.example"})
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        connection.getresponse()


# ---- internal endpoints (finding 11) and headers (14.7) ----------------------------------------


INTERNAL = ["/openapi.json", "/docs", "/docs/", "/docs/oauth2-redirect", "/redoc", "/metrics"]


@pytest.mark.parametrize("path", INTERNAL, ids=[p.strip("/").replace("/", "-") for p in INTERNAL])
def test_internal_endpoints_are_not_served_through_the_edge(
    make_edge: EdgeFactory, rig: Rig, path: str
) -> None:
    edge = make_edge()
    status, headers, body = https_session(edge)("GET", path)
    assert status == 404
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"error_code": "ERR_404", "error_msg": "NOT FOUND"}
    assert seen(rig, path) == 0


def test_each_security_header_is_sent_once_and_the_request_id_is_the_edges(
    make_edge: EdgeFactory,
) -> None:
    edge = make_edge()
    send = https_session(edge)
    status, headers, body = send("GET", "/app-headers", **{"X-Request-ID": "client-chosen"})
    assert status == 200
    for name in (
        "Strict-Transport-Security",
        "X-Content-Type-Options",
        "X-Frame-Options",
        "Referrer-Policy",
        "Content-Security-Policy",
        "X-Request-ID",
        "Cache-Control",
    ):
        assert len(headers.get_all(name) or []) == 1, (name, headers.get_all(name))
    assert headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"
    forwarded = json.loads(body)["headers"]["x-request-id"]
    assert forwarded != "client-chosen"
    assert headers["X-Request-ID"] == forwarded
    # The edge's own errors carry them too, with an id.
    status, headers, _ = send("GET", "/docs")
    assert status == 404
    assert len(headers["X-Request-ID"]) == 32
    assert headers["X-Frame-Options"] == "DENY"


def test_the_real_apps_answers_through_the_edge_carry_each_header_once(
    make_edge: EdgeFactory, tmp_path: Path
) -> None:
    """The app sets its own security headers (contract 14.7, for the Kubernetes path); through
    nginx each still arrives once, with the edge's request id and HSTS."""
    env = {"ENV": "test", "DB_DIALECT": "sqlite", "DB_DATABASE": str(tmp_path / "app.db")}
    with wapang_server(tmp_path, **env, **TEST_SECRETS) as app:
        edge = make_edge(upstream=app.base_url.removeprefix("http://"))
        send = https_session(edge)
        for headers_sent in ({}, {"Authorization": "Bearer not-a-token"}):
            status, headers, _ = send("GET", "/api/users/me" if headers_sent else "/api/items",
                                      **headers_sent)  # fmt: skip
            assert status == (401 if headers_sent else 200)
            for name in (
                "Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options",
                "Referrer-Policy", "Content-Security-Policy", "X-Request-ID",
            ):  # fmt: skip
                assert len(headers.get_all(name) or []) == 1, (name, headers.get_all(name))
            assert len(headers["X-Request-ID"]) == 32  # nginx's $request_id, kept by the app
        assert headers["Cache-Control"] == "no-store"  # the app's, for an authenticated request
