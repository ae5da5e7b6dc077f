"""Fixtures: pebble-challtestsrv, two pebbles (production + "staging"), an upstream app and a
fresh nginx per test, all on loopback ports, all stopped by PID."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.nginx import private_dir, start_nginx
from harness.processes import LOOPBACK, Service, free_port, wait_for_port
from tests.requirements import find_binaries, require_available
from wapang.edge.certbot import resolve_binary
from wapang.edge.certificates import wait_until_served
from wapang.edge.errors import CertbotNotFound
from wapang.edge.manager import Manager
from wapang.edge.settings import EdgeSettings

from .rig import (
    PEBBLE_SID_DIR,
    ChallTestSrv,
    Edge,
    Pebble,
    make_pebble_tls,
    pebble_profiles,
    run_entrypoint_scripts,
    start_pebble,
)

UPSTREAM_APP = Path(__file__).with_name("upstream_app.py")


@dataclass
class Rig:
    root: Path
    binaries: dict[str, str]
    certbot: str
    ca_file: Path
    http_port: int
    https_port: int
    upstream_port: int
    production: Pebble
    staging: Pebble
    production_root: Path
    dns_port: int
    challtestsrv: ChallTestSrv


@pytest.fixture(scope="session")
def rig_binaries() -> dict[str, str]:
    binaries = find_binaries("nginx", "pebble", "pebble-challtestsrv")
    try:
        binaries["certbot"] = resolve_binary(None)
    except CertbotNotFound:
        require_available(False, "certbot (uv sync with the 'edge' group)")
    return binaries


@pytest.fixture(scope="session")
def rig(rig_binaries: dict[str, str]) -> Iterator[Rig]:
    root = Path(tempfile.mkdtemp(prefix="wapang-edge-"))
    root.chmod(0o755)  # nginx workers (nobody, when run as root) read the webroots below
    services: list[Service] = []
    try:
        ca_file = make_pebble_tls(root / "pki")
        http_port, https_port, dns_port, cts_port = (free_port() for _ in range(4))
        # challtestsrv: DNS only, every name -> 127.0.0.1, no AAAA (G1), no own responders (G4)
        challtestsrv = Service.start(
            "challtestsrv",
            [
                "pebble-challtestsrv",
                "-defaultIPv4",
                LOOPBACK,
                "-defaultIPv6",
                "",
                "-dns01",
                f"{LOOPBACK}:{dns_port}",
                "-http01",
                "",
                "-https01",
                "",
                "-tlsalpn01",
                "",
                "-management",
                f"{LOOPBACK}:{cts_port}",
            ],
            root / "challtestsrv.log",
        )
        services.append(challtestsrv)
        wait_for_port(dns_port, challtestsrv.process, "challtestsrv")
        production = start_pebble("pebble", root, root / "pki", ca_file, http_port, dns_port)
        services.append(production.service)
        staging = start_pebble("pebble-staging", root, root / "pki", ca_file, http_port, dns_port)
        services.append(staging.service)
        upstream_port = free_port()
        upstream = Service.start(
            "upstream", [sys.executable, str(UPSTREAM_APP), str(upstream_port)], root / "up.log"
        )
        services.append(upstream)
        wait_for_port(upstream_port, upstream.process, "upstream")
        production_root = root / "pebble-root.pem"
        production_root.write_text(production.root_pem)
        yield Rig(
            dns_port=dns_port,
            challtestsrv=ChallTestSrv(cts_port),
            root=root,
            binaries=rig_binaries,
            certbot=rig_binaries["certbot"],
            ca_file=ca_file,
            http_port=http_port,
            https_port=https_port,
            upstream_port=upstream_port,
            production=production,
            staging=staging,
            production_root=production_root,
        )
    finally:
        for service in reversed(services):
            service.stop()
        if not os.environ.get("WAPANG_EDGE_KEEP"):
            shutil.rmtree(root, ignore_errors=True)


@dataclass
class AriCAs:
    """Two pebble 2.10s (production, staging) with renewal info and profiles."""

    production: Pebble
    staging: Pebble


@pytest.fixture(scope="session")
def ari_cas(rig: Rig) -> Iterator[AriCAs]:
    binary = PEBBLE_SID_DIR / "usr" / "bin" / "pebble"
    require_available(binary.exists(), f"pebble 2.10 at {binary} (run .ci/fetch-pebble-sid)")
    started = []
    try:
        for name in ("pebble-ari", "pebble-ari-staging"):
            started.append(
                start_pebble(
                    name, rig.root, rig.root / "pki", rig.ca_file, rig.http_port, rig.dns_port,
                    binary=str(binary), extra=pebble_profiles(),
                )
            )  # fmt: skip
        yield AriCAs(*started)
    finally:
        for pebble in started:
            pebble.service.stop()


EdgeFactory = Callable[..., Edge]


@pytest.fixture
def make_edge(rig: Rig, request: pytest.FixtureRequest) -> Iterator[EdgeFactory]:
    """make_edge(domain=..., **settings) -> a running nginx (placeholder cert) + settings."""
    started: list[Edge] = []
    counter = iter(range(100))

    def factory(domain: str | None = None, shell_bootstrap: bool = False, **overrides: Any) -> Edge:
        test_name = request.node.name
        if "[" in test_name:  # parametrized: keep the parameter, or two cases share a dir
            test_name = test_name[:30] + "-" + test_name.split("[", 1)[1][:9]
        name = f"{test_name[:40]}-{next(counter)}".replace("[", "-").replace("]", "")
        base = private_dir(rig.root, name)
        values: dict[str, Any] = {
            "domains": [domain or f"{name.lower().replace('_', '-')}.wapang.test"],
            "acme_server": rig.production.directory_url,
            "acme_staging_server": rig.staging.directory_url,
            "acme_ca_bundle": rig.ca_file,
            "certbot_bin": rig.certbot,
            "certbot_config_dir": base / "letsencrypt",
            "certbot_work_dir": base / "certbot-work",
            "certbot_logs_dir": base / "certbot-logs",
            "certbot_timeout_seconds": 120,
            "webroot": private_dir(base, "webroot"),
            "upstream": f"{LOOPBACK}:{rig.upstream_port}",
            "listen_address": LOOPBACK,
            "http_port": rig.http_port,
            "https_port": rig.https_port,
            "nginx_reload": "command",
            "nginx_bin": rig.binaries["nginx"],
            "nginx_prefix": base / "nginx",
            "nginx_conf": base / "nginx" / "conf" / "nginx.conf",
            "verify_host": LOOPBACK,
            "ledger_dir": base / "host-ledger",  # the host directory compose bind-mounts
            "dns_resolver": [f"{LOOPBACK}:{rig.dns_port}"],  # preflight asks challtestsrv
        }
        values.update(overrides)
        settings = EdgeSettings(**values)
        Manager(settings).bootstrap()  # the placeholder, as compose's certs-init service makes it
        if shell_bootstrap:  # the image's entrypoint scripts, as the nginx container runs them
            run_entrypoint_scripts(settings)
        nginx = start_nginx(settings, base / "nginx.out")
        edge = Edge(settings, base / "nginx", nginx, rig.production_root)
        started.append(edge)
        return edge

    yield factory
    for edge in started:
        edge.nginx.stop()


SHARED_DOMAIN = "issued.wapang.test"


@pytest.fixture
def issued_edge(make_edge: EdgeFactory, rig: Rig) -> Edge:
    """An edge already serving a production certificate. The first use issues it (dry run,
    order, renewal proof: ~8 s); later uses copy that certbot state into their own dirs, so
    tests that start from "issued" do not each pay for a new issuance."""
    edge = make_edge(domain=SHARED_DOMAIN)
    config_dir = edge.settings.certbot_config_dir
    cache, base_file = rig.root / "issued-cache", rig.root / "issued-cache.base"
    if not cache.exists():
        outcome = Manager(edge.settings).ensure()
        assert outcome.action == "issued", outcome
        shutil.copytree(config_dir, cache, symlinks=True)
        base_file.write_text(str(config_dir.parent))
        return edge
    shutil.rmtree(config_dir)
    shutil.copytree(cache, config_dir, symlinks=True)
    # renewal confs hold absolute paths (archive, live, webroot): move them to this test's dirs
    renewal = edge.settings.renewal_conf
    renewal.write_text(renewal.read_text().replace(base_file.read_text(), str(config_dir.parent)))
    outcome = Manager(edge.settings).ensure()  # nothing to order; nginx switched to the cert
    assert outcome.action == "activated", outcome
    # a run of connections, not one, before a test measures anything (G6)
    s = edge.settings
    wait_until_served(LOOPBACK, s.https_port, s.domains[0], int(str(outcome.serial), 16), 10, 20)
    return edge
