"""The edge in front of the app: the project's nginx template (wapang/edge/nginx_templates),
rendered and started by the harness as tests/delivery does (harness/nginx.py), TLS with a
certificate made for the run, HTTP/1.1 keep-alive to clients and to the app (the template's
upstream keepalive).
"""

from __future__ import annotations

from pathlib import Path

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
    edge.server_name = SITE  # wrk reaches it on loopback by name (BENCH_CONNECT, replay.lua)
    return edge
