"""The production shape: the image's entrypoint scripts bootstrap nginx with a placeholder, and
the watcher reloads nginx (after nginx -t) when the manager, in marker mode, writes the marker."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from harness.processes import LOOPBACK, Service
from wapang.edge.certificates import fetch_served_cert, load_cert
from wapang.edge.manager import Manager
from wapang.edge.nginx import TEMPLATE_DIR, Nginx, render_templates, template_variables
from wapang.edge.settings import EdgeSettings

from .fixtures import EdgeFactory
from .rig import ENTRYPOINT_D, settings_env, shell_edge_variables

pytestmark = pytest.mark.edge


@pytest.mark.parametrize(
    "values",
    [
        {"domains": "API.example.com, www.example.com"},  # production: only DOMAINS is set
        {
            "domains": "a.wapang.test",
            "listen_address": "127.0.0.1",
            "http_port": "5002",
            "https_port": "5443",
            "upstream": "127.0.0.1:8000",
            "webroot": "/srv/webroot",
            "certbot_config_dir": "/srv/le",
            "proxy_read_timeout": "2s",
            "max_request_body_bytes": "5000",
            "auth_rate_limit": "7r/m",
            "auth_rate_burst": "3",
        },
        {"domains": "b.example.com", "auth_rate_limit": "off"},
        {"domains": "c.example.com", "auth_rate_limit": "2r/s"},
    ],
)
def test_entrypoint_env_script_derives_what_the_python_renderer_uses(
    values: dict[str, str],
) -> None:
    settings = EdgeSettings(**values)  # type: ignore[arg-type]
    env = {"PATH": os.environ["PATH"]} | {k.upper(): str(v) for k, v in values.items()}
    shell = shell_edge_variables(env)
    python = template_variables(settings)
    assert {key: shell.get(key) for key in python} == python


def test_entrypoint_placeholder_and_marker_watcher_switch_nginx_to_the_issued_cert(
    make_edge: EdgeFactory,
) -> None:
    edge = make_edge(shell_bootstrap=True, nginx_reload="marker")
    s = edge.settings
    served = fetch_served_cert(LOOPBACK, s.https_port, s.domains[0])
    assert served.is_placeholder(), served.issuer  # certs-init's, checked by 40-wapang-certs.sh
    nginx_cmd = " ".join(Nginx(s).base_command())  # nginx -p PREFIX -e LOG -c CONF
    watcher = Service.start(
        "watcher",
        [str(ENTRYPOINT_D / "wapang-cert-watch")],
        edge.prefix / "watch.log",
        env=settings_env(s)
        | {
            "EDGE_STATE_DIR": str(s.state_dir),
            "EDGE_NGINX_CMD": nginx_cmd,
            "EDGE_WATCH_INTERVAL": "0.2",
        },
    )
    try:
        outcome = Manager(s).ensure()  # writes the marker; the watcher reloads nginx
        assert outcome.action == "issued", (outcome, (edge.prefix / "watch.log").read_text())
        on_disk = load_cert(s.live_dir / "cert.pem")
        assert on_disk is not None
        assert fetch_served_cert(LOOPBACK, s.https_port, s.domains[0]).serial == on_disk.serial
        assert "nginx reloaded" in (edge.prefix / "watch.log").read_text()
    finally:
        watcher.stop()
    assert subprocess.run(["sh", "-n", str(ENTRYPOINT_D / "wapang-cert-watch")]).returncode == 0


@pytest.mark.parametrize("auth_rate_limit", ["10r/m", "off"])
def test_the_image_entrypoint_renders_the_same_site_as_the_python_renderer(
    tmp_path: Path, auth_rate_limit: str
) -> None:
    """envsubst (05 + 20, as the nginx image runs them) and render_templates() give one file:
    the throttling key, the body limit and the Retry-After included."""
    values = {
        "domains": "shop.example.com,www.example.com",
        "max_request_body_bytes": "4096",
        "auth_rate_limit": auth_rate_limit,
    }
    env = {"PATH": os.environ["PATH"]} | {k.upper(): v for k, v in values.items()}
    env |= {"EDGE_TEMPLATE_DIR": str(TEMPLATE_DIR), "EDGE_CONF_DIR": str(tmp_path / "shell")}
    (tmp_path / "shell").mkdir()
    steps = ENTRYPOINT_D / "05-wapang-edge-env.envsh", ENTRYPOINT_D / "20-wapang-templates.sh"
    render = f'. "{steps[0]}" && sh "{steps[1]}"'
    subprocess.run(["sh", "-c", render], env=env, check=True, capture_output=True, timeout=30)
    render_templates(EdgeSettings(**values), tmp_path / "python")  # type: ignore[arg-type]
    shell = (tmp_path / "shell" / "wapang.conf").read_text()
    assert shell == (tmp_path / "python" / "wapang.conf").read_text()
    assert "client_max_body_size 4096;" in shell
    key = "$binary_remote_addr" if auth_rate_limit != "off" else '""'
    assert f'"~^POST /api/(auth/tokens|users)/*$" {key};' in shell
