"""nginx in the foreground on loopback, from the project's own templates (wapang/edge/nginx.py
renders them and builds the command line), with a certificate behind the `current` link."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from harness.binaries import nginx_binary
from harness.processes import LOOPBACK, Service, free_port, wait_for_port
from wapang.edge.nginx import Nginx, write_loopback_config
from wapang.edge.settings import EdgeSettings


def private_dir(parent: Path, name: str) -> Path:
    """A directory nginx workers can read: they run as nobody when the tests run as root."""
    path = parent / name
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o755)
    return path


def loopback_settings(
    base: Path, domain: str, upstream_port: int, **overrides: Any
) -> EdgeSettings:
    """Edge settings for one nginx under `base`: free ports, its own prefix, webroot and
    state, proxying to the app on `upstream_port`."""
    values: dict[str, Any] = {
        "domains": [domain],
        "listen_address": LOOPBACK,
        "http_port": free_port(),
        "https_port": free_port(),
        "upstream": f"{LOOPBACK}:{upstream_port}",
        "webroot": private_dir(base, "webroot"),
        "edge_state_dir": private_dir(base, "state"),
        "nginx_bin": nginx_binary(),
        "nginx_prefix": base / "nginx",
        "nginx_conf": base / "nginx" / "conf" / "nginx.conf",
    }
    return EdgeSettings(**(values | overrides))


def start_nginx(settings: EdgeSettings, log: Path) -> Service:
    """Write the loopback config under settings.nginx_prefix (wapang/edge/nginx.py renders the
    templates) and run it: see run_nginx."""
    assert settings.nginx_prefix is not None, "a loopback nginx needs its own prefix"
    write_loopback_config(settings, settings.nginx_prefix)
    return run_nginx(settings, log)


def run_nginx(settings: EdgeSettings, log: Path) -> Service:
    """nginx in the foreground with the config settings name (`Nginx.serve_command()`), until
    its HTTPS port is open; stopped gracefully (SIGQUIT), so the next one can take the same
    ports at once."""
    service = Service.start(
        "nginx",
        Nginx(settings).serve_command(),
        log,
        stop_signal=signal.SIGQUIT,
        port=settings.https_port,
        scheme="https",
    )
    wait_for_port(settings.https_port, service.process, "nginx")
    return service
