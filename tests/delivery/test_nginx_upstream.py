"""deploy.sh's nginx switch (deploy/nginx/entrypoint.d/wapang-upstream) with a real nginx on
loopback: the site is rendered with the upstream it is given, loaded after `nginx -t`, and the
workers of the previous configuration are gone when it returns; a config nginx refuses is never
loaded and the previous files are put back."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.nginx import loopback_settings, run_nginx
from harness.processes import LOOPBACK, free_port
from tests.requirements import find_binaries
from wapang.delivery.pki import issue, make_authority
from wapang.edge.nginx import Nginx

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT_D = ROOT / "deploy" / "nginx" / "entrypoint.d"
TEMPLATES = ROOT / "wapang" / "edge" / "nginx_templates"
SWITCH = ENTRYPOINT_D / "wapang-upstream"


SITE = "shop.wapang.example"


@dataclass
class Edge:
    prefix: Path
    env: dict[str, str]

    @property
    def site(self) -> str:
        return (self.prefix / "conf.d" / "wapang.conf").read_text()

    def switch(self, *upstream: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SWITCH), *upstream], env=self.env, capture_output=True, text=True, timeout=60
        )

    def workers(self) -> set[int]:
        master = int((self.prefix / "nginx.pid").read_text())
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        return {int(pid) for pid in children}


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[Edge]:
    find_binaries("nginx", "envsubst")
    prefix = tmp_path / "nginx"  # loopback_settings's; the main config is the image's, below
    settings = loopback_settings(tmp_path, SITE, free_port(), nginx_conf=prefix / "nginx.conf")
    for directory in ("conf.d", "logs"):
        (prefix / directory).mkdir(parents=True)
    issue(make_authority("wapang test CA"), [SITE], settings.tls_dir, 1)
    # The image's main context (its stock nginx.conf) in miniature: the site comes from conf.d/,
    # rendered below by the image's own entrypoint scripts, not by wapang/edge/nginx.py.
    (prefix / "nginx.conf").write_text(
        f"pid {prefix}/nginx.pid;\nerror_log stderr notice;\nevents {{}}\n"
        f"http {{ access_log off; include {prefix}/conf.d/*.conf; }}\n"
    )
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "DOMAINS": SITE,
        "LISTEN_ADDRESS": LOOPBACK,
        "HTTP_PORT": str(settings.http_port),
        "HTTPS_PORT": str(settings.https_port),
        "UPSTREAM": settings.upstream,  # the container's steady state ("app:8000")
        "WEBROOT": str(settings.webroot),
        "EDGE_STATE_DIR": str(settings.state_dir),
        "WAPANG_ENTRYPOINT_D": str(ENTRYPOINT_D),
        "EDGE_TEMPLATE_DIR": str(TEMPLATES),
        "EDGE_CONF_DIR": str(prefix / "conf.d"),
        "EDGE_NGINX_CMD": " ".join(Nginx(settings).base_command()),
        "EDGE_DRAIN_SECONDS": "10",
        "EDGE_NGINX_PID_FILE": str(prefix / "nginx.pid"),
    }
    render = (
        f'. "{ENTRYPOINT_D}/05-wapang-edge-env.envsh" && sh "{ENTRYPOINT_D}/20-wapang-templates.sh"'
    )
    subprocess.run(["sh", "-c", render], env=env, check=True, capture_output=True)
    service = run_nginx(settings, prefix / "nginx.log")
    yield Edge(prefix, env)
    service.stop()


def test_switch_loads_the_new_upstream_and_returns_when_the_old_workers_are_gone(
    edge: Edge,
) -> None:
    steady = edge.env["UPSTREAM"]
    old_workers = edge.workers()
    assert old_workers
    new_app = f"{LOOPBACK}:{free_port()}"
    switched = edge.switch(new_app)
    assert switched.returncode == 0, switched.stderr
    assert f"server {new_app} max_fails=0;" in edge.site
    assert not old_workers & edge.workers(), "returned before the old workers had exited"
    back = edge.switch()  # no address: the container's own UPSTREAM, as nginx starts with
    assert back.returncode == 0, back.stderr
    assert f"server {steady} max_fails=0;" in edge.site


def test_switch_to_a_config_nginx_refuses_loads_nothing_and_keeps_the_files(edge: Edge) -> None:
    before, workers = edge.site, edge.workers()
    refused = edge.switch("no-such-app.invalid:8000")  # nginx -t: host not found in upstream
    assert refused.returncode != 0
    assert "nginx -t FAILED" in refused.stderr
    assert edge.site == before
    assert edge.workers() == workers, "nginx was reloaded"
