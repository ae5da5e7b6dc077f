"""Fixtures for `wapang verify`: a real uvicorn app (SQLite, or a MySQL that is down) and real
nginx instances rendered from the package's templates, on free loopback ports, stopped by PID."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.apps import clean_env, serve_app
from harness.nginx import loopback_settings, private_dir, start_nginx
from harness.processes import LOOPBACK, Service, free_port, wait_for_port
from tests.examples import TEST_SECRETS
from tests.requirements import find_binaries
from wapang.edge.nginx import TEMPLATE_DIR

SITE = "shop.wapang.example"  # email_validator refuses .test addresses for the sign-up
UPSTREAM_LINE = "server ${EDGE_UPSTREAM} max_fails=0;"
HSTS_LINE = 'add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;'


@dataclass
class App:
    port: int
    service: Service


def start_app(root: Path, name: str, **environment: str) -> App:
    """`wapang serve` as deployed (uvicorn, proxy headers), with its own settings."""
    env = clean_env(ENV="test", **TEST_SECRETS, **environment)
    service = serve_app(name, root / f"{name}.log", env)
    wait_for_port(service.port, service.process, name, timeout=30)
    return App(service.port, service)


@pytest.fixture(scope="session")
def delivery_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("verify")
    root.chmod(0o755)  # nginx workers run as nobody under root
    return root


@pytest.fixture(scope="session")
def api_app(delivery_root: Path) -> Iterator[App]:
    """The real API on a fresh SQLite file (migrated by `wapang serve`)."""
    app = start_app(
        delivery_root,
        "api",
        DB_DIALECT="sqlite",
        DB_DATABASE=str(delivery_root / "verify.db"),
    )
    yield app
    app.service.stop()


@pytest.fixture(scope="session")
def db_down_app(delivery_root: Path) -> Iterator[App]:
    """The real API whose MySQL is down: nothing listens on its port."""
    app = start_app(
        delivery_root,
        "api-db-down",
        DB_DIALECT="mysql",
        DB_HOST=LOOPBACK,
        DB_PORT=str(free_port()),
        DB_USER="wapang",
        DB_PASSWORD="unused",
        DB_DATABASE="wapang",
        DB_CONNECT_TIMEOUT="2",
    )
    yield app
    app.service.stop()


@dataclass
class LocalEdge:
    host: str
    http_port: int
    https_port: int
    webroot: Path | None = None  # the shared webroot (ACME tokens, the maintenance flag)
    prefix: Path | None = None  # nginx's (logs/access.log, logs/error.log) when we started it

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.https_port}"

    def args(self, ca_file: Path) -> list[str]:
        """The verify arguments that point it at this edge on loopback."""
        return [
            self.url,
            "--connect-to",
            LOOPBACK,
            "--http-port",
            str(self.http_port),
            "--ca-file",
            str(ca_file),
        ]


EdgeStarter = Callable[..., LocalEdge]


@pytest.fixture
def start_edge(delivery_root: Path, request: pytest.FixtureRequest) -> Iterator[EdgeStarter]:
    """start_edge(tls_dir, upstream_port, hsts=True, replica_ports=()) -> nginx serving that
    certificate, proxying to the app on upstream_port (and to each replica port besides)."""
    find_binaries("nginx")
    started: list[Service] = []

    def start(
        tls_dir: Path, upstream_port: int, hsts: bool = True, replica_ports: Sequence[int] = ()
    ) -> LocalEdge:
        base = private_dir(delivery_root, f"{request.node.name[:50]}-{len(started)}")
        replicas = [f"{LOOPBACK}:{port}" for port in replica_ports]
        templates = template_dir(base, hsts, replicas)
        settings = loopback_settings(base, SITE, upstream_port, nginx_template_dir=templates)
        settings.tls_dir.symlink_to(tls_dir)
        started.append(start_nginx(settings, base / "nginx.out"))
        return LocalEdge(
            SITE, settings.http_port, settings.https_port, settings.webroot, settings.nginx_prefix
        )

    yield start
    for service in started:
        service.stop()


def template_dir(base: Path, hsts: bool, replicas: Sequence[str] = ()) -> Path:
    """The production templates, or a copy without the HSTS header (the misconfiguration), or
    with more app servers in the upstream: what `app:8000` resolving to several containers of
    a scaled compose service gives nginx."""
    if hsts and not replicas:
        return TEMPLATE_DIR
    copy = private_dir(base, "templates")
    for template in TEMPLATE_DIR.glob("*.template"):
        text = template.read_text()
        assert HSTS_LINE in text, "the HSTS line of the template changed: update HSTS_LINE"
        assert UPSTREAM_LINE in text, "the upstream server line changed: update UPSTREAM_LINE"
        if not hsts:
            text = text.replace(HSTS_LINE, "")
        more = "".join(f"\n    server {replica} max_fails=0;" for replica in replicas)
        (copy / template.name).write_text(text.replace(UPSTREAM_LINE, UPSTREAM_LINE + more))
    return copy
