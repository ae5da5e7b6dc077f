"""nginx behaviour that does not need a CA: redirects, the challenge path, proxy headers, JSON
error bodies, security headers, and a broken config that is refused."""

from __future__ import annotations

import http.client
import json
import socket
import ssl

import pytest

from harness.processes import LOOPBACK, free_port
from wapang.edge.errors import NginxConfigError
from wapang.edge.nginx import Nginx

from .fixtures import EdgeFactory, Rig
from .rig import Edge

pytestmark = pytest.mark.edge


def tls_connection(
    edge: Edge, server_name: str | None = None, timeout: float = 10
) -> http.client.HTTPSConnection:
    """A TLS connection to the edge on loopback with the site's name as SNI (the edge refuses a
    handshake for any other name, or none); the placeholder certificate is not verified."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    connection = http.client.HTTPSConnection(
        LOOPBACK, edge.settings.https_port, timeout=timeout, context=context
    )
    raw = socket.create_connection((LOOPBACK, edge.settings.https_port), timeout=timeout)
    connection.sock = context.wrap_socket(
        raw, server_hostname=server_name or edge.settings.domains[0]
    )
    return connection


def https(
    edge: Edge, method: str, path: str, body: bytes | None = None, timeout: float = 10
) -> tuple[int, dict[str, str], bytes]:
    """One request over a fresh TLS connection."""
    connection = tls_connection(edge, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers={"Host": edge.settings.domains[0]})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def plain_http(edge: Edge, path: str) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(LOOPBACK, edge.settings.http_port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": edge.settings.domains[0]})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_http_redirects_to_https_but_not_the_challenge_path(make_edge: EdgeFactory) -> None:
    edge = make_edge()
    name, port = edge.settings.domains[0], edge.settings.https_port

    status, headers, _ = plain_http(edge, "/v1/items?page=2")
    assert status == 301
    assert headers["location"] == f"https://{name}:{port}/v1/items?page=2"

    challenge = edge.settings.webroot / ".well-known" / "acme-challenge"
    challenge.mkdir(parents=True)
    challenge.parent.chmod(0o755)
    challenge.chmod(0o755)
    (challenge / "token123").write_text("token123.thumbprint")
    (challenge / "token123").chmod(0o644)
    assert plain_http(edge, "/.well-known/acme-challenge/token123")[::2] == (
        200,
        b"token123.thumbprint",
    )
    assert plain_http(edge, "/.well-known/acme-challenge/missing")[0] == 404


def test_proxy_passes_client_scheme_and_host_with_security_headers(
    make_edge: EdgeFactory,
) -> None:
    edge = make_edge()
    status, headers, body = https(edge, "GET", "/echo")
    assert status == 200
    seen = json.loads(body)["headers"]
    assert seen["host"] == edge.settings.domains[0]
    assert seen["x-forwarded-proto"] == "https"
    assert seen["x-forwarded-for"] == "127.0.0.1"
    assert seen.get("connection", "") != "close"  # upstream keepalive
    assert headers["strict-transport-security"].startswith("max-age=63072000")
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in headers["content-security-policy"]
    assert "server" not in headers or headers["server"] == "nginx"  # server_tokens off


def _assert_json_error(
    status: int, headers: dict[str, str], body: bytes, code: int, msg: str
) -> None:
    assert status == code
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"error_code": f"ERR_{code}", "error_msg": msg}
    assert headers["strict-transport-security"].startswith("max-age=")


def test_upstream_down_is_a_json_502(make_edge: EdgeFactory) -> None:
    edge = make_edge(upstream=f"{LOOPBACK}:{free_port()}")
    _assert_json_error(*https(edge, "GET", "/v1/page.html"), 502, "BAD GATEWAY")


def test_slow_upstream_is_a_json_504_and_big_body_a_json_413(make_edge: EdgeFactory) -> None:
    edge = make_edge(proxy_read_timeout="1s", max_request_body_bytes=1024)
    _assert_json_error(*https(edge, "GET", "/slow?s=3"), 504, "GATEWAY TIMEOUT")
    _assert_json_error(*https(edge, "POST", "/v1/upload", b"x" * 4096), 413, "PAYLOAD TOO LARGE")
    assert https(edge, "POST", "/v1/upload", b"x" * 512)[0] == 200


def test_a_broken_config_is_refused_and_nginx_keeps_serving(make_edge: EdgeFactory) -> None:
    edge = make_edge()
    rendered = edge.prefix / "conf.d" / "wapang.conf"
    rendered.write_text(
        rendered.read_text().replace("proxy_http_version 1.1;", "proxy_http_version")
    )
    master_pid = edge.nginx.process.pid

    with pytest.raises(NginxConfigError):
        Nginx(edge.settings).reload()

    assert edge.nginx.process.poll() is None
    assert edge.nginx.process.pid == master_pid
    assert https(edge, "GET", "/still-up")[0] == 200


def test_rendered_config_passes_nginx_t(make_edge: EdgeFactory, rig: Rig) -> None:
    edge = make_edge()
    Nginx(edge.settings).test_config()
    text = (edge.prefix / "conf.d" / "wapang.conf").read_text()
    assert "${" not in text
    assert f"listen {LOOPBACK}:{rig.https_port} ssl http2 default_server;" in text
    with socket.create_connection((LOOPBACK, rig.https_port), timeout=5):
        pass
