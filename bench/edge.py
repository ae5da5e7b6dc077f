"""The edge in front of the app: the project's nginx template (wapang/edge/nginx_templates),
rendered with wapang.edge.nginx as tests/delivery does, TLS with a certificate made by openssl
for the run, HTTP/1.1 keep-alive to clients and to the app (the template's upstream keepalive).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from bench.servers import Server, free_port, start
from wapang.edge.nginx import write_loopback_config
from wapang.edge.settings import EdgeSettings

SITE = "shop.bench.example.com"
LOOPBACK = "127.0.0.1"


def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    if found is None:
        raise RuntimeError("the edge scenario needs nginx: apt-get install nginx")
    return found


def _directory(parent: Path, name: str) -> Path:
    """0755: nginx workers run as nobody when the bench runs as root."""
    path = parent / name
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o755)
    return path


def self_signed(directory: Path) -> Path:
    """fullchain.pem and privkey.pem for SITE (ECDSA P-256, as certbot issues), in `directory`."""
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={SITE}",
            "-addext",
            f"subjectAltName=DNS:{SITE}",
            "-keyout",
            str(directory / "privkey.pem"),
            "-out",
            str(directory / "fullchain.pem"),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return directory


def start_edge(base: Path, upstream_port: int) -> Server:
    base = _directory(base, "edge")
    settings = EdgeSettings(
        domains=[SITE],
        listen_address=LOOPBACK,
        http_port=free_port(),
        https_port=free_port(),
        upstream=f"{LOOPBACK}:{upstream_port}",
        webroot=_directory(base, "webroot"),
        edge_state_dir=_directory(base, "state"),
    )
    settings.tls_dir.symlink_to(self_signed(_directory(base, "tls")))
    prefix = base / "nginx"
    main = write_loopback_config(settings, prefix)
    command = [
        nginx_binary(),
        "-p",
        str(prefix),
        "-e",
        str(prefix / "logs" / "error.log"),
        "-c",
        str(main),
        "-g",
        "daemon off;",
    ]
    server = start("edge", command, {}, settings.https_port, base / "nginx.out")
    server.scheme = "https"
    return server
