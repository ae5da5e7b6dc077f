"""deploy.sh's nginx switch (deploy/nginx/entrypoint.d/wapang-upstream) with a real nginx on
loopback: the site is rendered with the upstream it is given, loaded after `nginx -t`, and the
workers of the previous configuration are gone when it returns; a config nginx refuses is never
loaded and the previous files are put back."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.binaries import which
from harness.processes import LOOPBACK, Service, free_port, wait_for_port
from tests.requirements import require_available
from wapang.delivery.pki import issue, make_authority

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT_D = ROOT / "deploy" / "nginx" / "entrypoint.d"
TEMPLATES = ROOT / "wapang" / "edge" / "nginx_templates"
SWITCH = ENTRYPOINT_D / "wapang-upstream"


@dataclass
class Edge:
    prefix: Path
    env: dict[str, str]
    nginx: list[str]

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
    binary = which("nginx")
    require_available(binary is not None, "nginx")
    assert binary is not None
    require_available(shutil.which("envsubst") is not None, "envsubst (gettext-base)")
    prefix = tmp_path / "nginx"
    for directory in ("conf.d", "logs", "webroot", "state/current"):
        (prefix / directory).mkdir(parents=True)
    issue(make_authority("wapang test CA"), ["shop.wapang.example"], prefix / "state/current", 1)
    (prefix / "nginx.conf").write_text(
        f"pid {prefix}/nginx.pid;\nerror_log stderr notice;\nevents {{}}\n"
        f"http {{ access_log off; include {prefix}/conf.d/*.conf; }}\n"
    )
    nginx = [binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf")]
    http_port, https_port = free_port(), free_port()
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "DOMAINS": "shop.wapang.example",
        "LISTEN_ADDRESS": LOOPBACK,
        "HTTP_PORT": str(http_port),
        "HTTPS_PORT": str(https_port),
        "UPSTREAM": f"{LOOPBACK}:{free_port()}",  # the container's steady state ("app:8000")
        "WEBROOT": str(prefix / "webroot"),
        "EDGE_STATE_DIR": str(prefix / "state"),
        "WAPANG_ENTRYPOINT_D": str(ENTRYPOINT_D),
        "EDGE_TEMPLATE_DIR": str(TEMPLATES),
        "EDGE_CONF_DIR": str(prefix / "conf.d"),
        "EDGE_NGINX_CMD": " ".join(nginx),
        "EDGE_DRAIN_SECONDS": "10",
        "EDGE_NGINX_PID_FILE": str(prefix / "nginx.pid"),
    }
    render = (
        f'. "{ENTRYPOINT_D}/05-wapang-edge-env.envsh" && sh "{ENTRYPOINT_D}/20-wapang-templates.sh"'
    )
    subprocess.run(["sh", "-c", render], env=env, check=True, capture_output=True)
    service = Service.start("nginx", [*nginx, "-g", "daemon off;"], prefix / "nginx.log")
    wait_for_port(https_port, service.process, "nginx")
    yield Edge(prefix, env, nginx)
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
