"""The edge in front of the app: the project's nginx template (wapang/edge/nginx_templates),
rendered and started by the harness as tests/delivery does (harness/nginx.py), TLS with a
certificate made for the run, HTTP/1.1 keep-alive to clients and to the app (the template's
upstream keepalive).
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import httpx

from harness.nginx import loopback_settings, private_dir, start_nginx
from harness.processes import Service
from wapang.delivery.pki import issue, make_authority

SITE = "shop.bench.example.com"


def start_edge(work: Path, upstream_port: int) -> Service:
    base = private_dir(work, "edge")
    settings = loopback_settings(base, SITE, upstream_port)
    tls = issue(make_authority("wapang bench CA"), [SITE], base / "tls", days=2)
    settings.tls_dir.symlink_to(tls)
    edge = start_nginx(settings, base / "nginx.out")
    edge.name = "edge"
    _wait_ready(edge)
    return edge


def _wait_ready(edge: Service, timeout: float = 30) -> None:
    """Until the app answers through the edge, asked by name (no SNI, no handshake)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if edge.process.poll() is not None:
            raise RuntimeError(f"the edge exited at start-up:\n{edge.tail()}")
        with contextlib.suppress(httpx.HTTPError), httpx.Client(verify=False, timeout=2) as client:
            answer = client.get(
                f"{edge.url}/healthz", headers={"Host": SITE}, extensions={"sni_hostname": SITE}
            )
            if answer.status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the edge does not reach the app after {timeout}s:\n{edge.tail()}")


def site_url(edge: Service) -> str:
    """The edge by its name, as clients reach it: with SNI (wrk connects to loopback)."""
    return f"https://{SITE}:{edge.port}"
