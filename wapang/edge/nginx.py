"""Render the nginx templates (package data), test configs with `nginx -t`, and reload.

The renderer fills the very same `${EDGE_*}` template files the official nginx image renders
with envsubst, so the tests exercise the production config with loopback ports and paths.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from wapang.edge.certificates import fetch_served_cert, wait_until_served
from wapang.edge.errors import NginxConfigError, NginxReloadError, TemplateError
from wapang.edge.settings import EdgeSettings

# Package data, so an installed wapang renders without a checkout; the nginx image COPYs it.
TEMPLATE_DIR = Path(__file__).resolve().parent / "nginx_templates"
_PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
NGINX_TIMEOUT_SECONDS = 30


def template_variables(settings: EdgeSettings) -> dict[str, str]:
    """The EDGE_* values; deploy/nginx/05-wapang-edge-env.envsh derives the same ones."""

    def listen(port: int) -> str:
        return f"{settings.listen_address}:{port}" if settings.listen_address else str(port)

    return {
        "EDGE_HTTP_LISTEN": listen(settings.http_port),
        "EDGE_HTTPS_LISTEN": listen(settings.https_port),
        "EDGE_SERVER_NAMES": " ".join(settings.domains),
        "EDGE_REDIRECT_PORT_SUFFIX": ""
        if settings.https_port == 443
        else f":{settings.https_port}",
        "EDGE_UPSTREAM": settings.upstream,
        "EDGE_WEBROOT": str(settings.webroot),
        "EDGE_TLS_DIR": str(settings.tls_dir),
        "EDGE_CLIENT_MAX_BODY_SIZE": str(settings.max_request_body_bytes),
        # Off: no request has a key, so none is counted (the zone still needs a valid rate).
        "EDGE_AUTH_LIMIT_KEY": "$binary_remote_addr" if settings.auth_rate_limited else '""',
        "EDGE_AUTH_RATE": settings.auth_rate_limit if settings.auth_rate_limited else "1r/s",
        "EDGE_AUTH_RATE_BURST": str(settings.auth_rate_burst),
        "EDGE_AUTH_RETRY_AFTER": str(settings.auth_retry_after_seconds),
        "EDGE_PROXY_CONNECT_TIMEOUT": settings.proxy_connect_timeout,
        "EDGE_PROXY_READ_TIMEOUT": settings.proxy_read_timeout,
    }


def render_template(text: str, variables: Mapping[str, str]) -> str:
    """envsubst for ${UPPER_CASE} names; an unknown name is an error, not an empty string."""
    missing = sorted({name for name in _PLACEHOLDER.findall(text) if name not in variables})
    if missing:
        raise TemplateError(f"template uses undefined variables: {', '.join(missing)}")
    return _PLACEHOLDER.sub(lambda match: variables[match.group(1)], text)


def render_templates(settings: EdgeSettings, out_dir: Path) -> list[Path]:
    """Render every *.template into out_dir (what the image does into /etc/nginx/conf.d)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    variables = template_variables(settings)
    written = []
    template_dir = settings.nginx_template_dir or TEMPLATE_DIR
    templates = sorted(template_dir.glob("*.template"))
    if not templates:
        raise TemplateError(f"no *.template in {template_dir}; set NGINX_TEMPLATE_DIR")
    for template in templates:
        target = out_dir / template.name.removesuffix(".template")
        target.write_text(render_template(template.read_text(), variables))
        written.append(target)
    return written


def loopback_main_conf(prefix: Path, conf_d: Path) -> str:
    """The main context for running nginx unprivileged inside a prefix (tests, local runs).
    In the image this role is played by the stock /etc/nginx/nginx.conf."""
    return f"""worker_processes 1;
pid {prefix}/logs/nginx.pid;
error_log {prefix}/logs/error.log notice;
events {{ worker_connections 512; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path {prefix}/temp/body;
    proxy_temp_path       {prefix}/temp/proxy;
    fastcgi_temp_path     {prefix}/temp/fastcgi;
    uwsgi_temp_path       {prefix}/temp/uwsgi;
    scgi_temp_path        {prefix}/temp/scgi;
    include {conf_d}/*.conf;
    access_log {prefix}/logs/access.log wapang_json buffer=64k flush=1s;  # after the include
}}
"""


def write_loopback_config(settings: EdgeSettings, prefix: Path) -> Path:
    """A complete nginx config under prefix; returns the main config file."""
    for sub in ("conf", "conf.d", "logs", "temp"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    render_templates(settings, prefix / "conf.d")
    main = prefix / "conf" / "nginx.conf"
    main.write_text(loopback_main_conf(prefix, prefix / "conf.d"))
    return main


class Nginx:
    """Runs the nginx binary with the configured prefix/config; `reload` always tests first."""

    def __init__(self, settings: EdgeSettings) -> None:
        self.settings = settings

    def base_command(self) -> list[str]:
        command = [self.settings.nginx_bin]
        prefix, conf = self.settings.nginx_prefix, self.settings.nginx_conf
        if prefix:
            command += ["-p", str(prefix), "-e", str(prefix / "logs" / "error.log")]
        if conf:
            command += ["-c", str(conf)]
        return command

    def serve_command(self) -> list[str]:
        """nginx in the foreground (tests, bench, local runs): stopped by its process."""
        return [*self.base_command(), "-g", "daemon off;"]

    def _run(self, extra: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.base_command(), *extra],
            capture_output=True,
            text=True,
            timeout=NGINX_TIMEOUT_SECONDS,
            check=False,
        )

    def test_config(self) -> None:
        result = self._run(["-t", "-q"])
        if result.returncode != 0:
            raise NginxConfigError(f"nginx -t failed: {result.stderr.strip()}")

    def reload(self) -> None:
        """`nginx -t`, then a graceful reload; a failing config is never loaded."""
        self.test_config()
        result = self._run(["-s", "reload"])
        if result.returncode != 0:
            raise NginxReloadError(f"nginx -s reload failed: {result.stderr.strip()}")


def request_reload(settings: EdgeSettings) -> None:
    """Reload nginx the configured way. In compose the certbot container has no nginx binary
    and no Docker socket: it writes the marker and nginx's watcher runs `nginx -t` + reload."""
    if settings.nginx_reload == "command":
        Nginx(settings).reload()
        return
    marker = settings.reload_marker
    marker.parent.mkdir(parents=True, exist_ok=True)
    temporary = marker.with_suffix(".tmp")
    temporary.write_text(datetime.now(UTC).isoformat() + "\n")
    os.replace(temporary, marker)  # atomic: the watcher never reads half a write


# ---- activation: what nginx serves ----------------------------------------------------------


def point_link(link: Path, target: Path) -> None:
    """Atomically (re)point a symlink; relative, so it resolves in every container that
    mounts the certificate volume, wherever it is mounted."""
    link.parent.mkdir(parents=True, exist_ok=True)
    relative = os.path.relpath(target, link.parent)
    if link.is_symlink() and os.readlink(link) == relative:
        return
    temporary = link.with_name(link.name + ".wapang-tmp")
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    temporary.symlink_to(relative)
    os.replace(temporary, link)


def links_to(link: Path, target: Path) -> bool:
    return link.is_symlink() and link.resolve() == target.resolve()


def serve(settings: EdgeSettings, live_dir: Path, serial: int) -> None:
    """Point nginx's certificate link at live_dir, reload (`nginx -t` first) and wait until
    nginx serves `serial`; raises EdgeError when it does not."""
    point_link(settings.tls_dir, live_dir)
    request_reload(settings)
    wait_until_served(
        settings.verify_host,
        settings.effective_verify_port,
        settings.domains[0],
        serial,
        settings.verify_timeout_seconds,
    )


def served_serial(settings: EdgeSettings) -> tuple[int | None, str]:
    """The serial nginx serves for the first name, or None and why it could not be read."""
    try:
        served = fetch_served_cert(
            settings.verify_host, settings.effective_verify_port, settings.domains[0], timeout=3
        )
    except OSError as exc:
        return None, str(exc) or type(exc).__name__
    return served.serial, ""
