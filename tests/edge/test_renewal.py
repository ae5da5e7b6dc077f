"""Renewal: zero failed requests across the reload, the standalone conf repaired, a staging
certificate replaced exactly once."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509

from harness.processes import LOOPBACK
from wapang.edge.certbot import Certbot, renewal_param
from wapang.edge.certificates import fetch_served_cert, load_cert
from wapang.edge.context import Context
from wapang.edge.decision import is_staging
from wapang.edge.ledger import Ledger
from wapang.edge.manager import Manager

from .fixtures import EdgeFactory, Rig
from .rig import Edge

pytestmark = pytest.mark.edge


@dataclass
class RequestLoop:
    """Connection-per-request HTTPS client (G13: keep-alive clients see closes on reload)."""

    port: int
    server_name: str
    root_ca: Path
    min_requests: int = 200
    after_switch: int = 50
    max_requests: int = 5000
    max_seconds: float = 90
    new_serial: int | None = None
    serials: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def one_request(self, context: ssl.SSLContext) -> None:
        with (
            socket.create_connection((LOOPBACK, self.port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname=self.server_name) as tls,
        ):
            request = f"GET /loop HTTP/1.1\r\nHost: {self.server_name}\r\nConnection: close\r\n\r\n"
            tls.sendall(request.encode())
            response = b""
            while chunk := tls.recv(65536):
                response += chunk
            der = tls.getpeercert(binary_form=True)
        if not response.startswith(b"HTTP/1.1 200"):
            raise AssertionError(response[:80])
        assert der is not None
        self.serials.append(x509.load_der_x509_certificate(der).serial_number)

    def run(self) -> None:
        context = ssl.create_default_context(cafile=str(self.root_ca))
        started = time.monotonic()
        while len(self.serials) + len(self.failures) < self.max_requests:
            try:
                self.one_request(context)
            except (OSError, AssertionError) as exc:
                self.failures.append(repr(exc))
            if time.monotonic() - started > self.max_seconds:
                break
            seen_new = self.serials.count(self.new_serial) if self.new_serial else 0
            total = len(self.serials) + len(self.failures)
            if seen_new >= self.after_switch and total >= self.min_requests:
                break


def _serial_on_disk(edge: Edge) -> int:
    cert = load_cert(edge.settings.live_dir / "cert.pem")
    assert cert is not None
    return cert.serial


def test_forced_renewal_changes_the_served_serial_without_failed_requests(
    issued_edge: Edge,
) -> None:
    edge = issued_edge
    old_serial = _serial_on_disk(edge)
    loop = RequestLoop(edge.settings.https_port, edge.settings.domains[0], edge.root_ca)
    worker = threading.Thread(target=loop.run)
    worker.start()
    try:
        time.sleep(0.3)
        outcome = Manager(edge.settings).ensure(force=True)
        assert outcome.action == "issued", outcome
        new = load_cert(edge.settings.live_dir / "cert.pem")
        assert new is not None
        assert new.serial != old_serial
        loop.new_serial = new.serial
    finally:
        worker.join(timeout=120)
    assert not loop.failures, loop.failures[:5]
    assert len(loop.serials) >= 200
    assert old_serial in loop.serials
    assert loop.serials.count(new.serial) >= 50
    served = fetch_served_cert(LOOPBACK, edge.settings.https_port, edge.settings.domains[0])
    assert served.serial == new.serial


def test_standalone_renewal_conf_is_found_and_fixed(issued_edge: Edge) -> None:
    edge = issued_edge
    conf = edge.settings.renewal_conf
    # What the seed deployment had: certbot --standalone, which can never renew behind nginx.
    lines = [
        line
        for line in conf.read_text().splitlines()
        if not line.startswith(("webroot_path", "[[webroot_map]]", edge.settings.domains[0]))
    ]
    conf.write_text(
        "\n".join(lines).replace("authenticator = webroot", "authenticator = standalone") + "\n"
    )
    assert renewal_param(conf.read_text(), "authenticator") == "standalone"

    outcome = Manager(edge.settings).ensure()

    assert outcome.action == "nothing", outcome
    assert any("standalone; fixed" in note for note in outcome.notes), outcome.notes
    assert "renewal dry run passed" in outcome.notes, outcome.notes
    text = conf.read_text()
    assert renewal_param(text, "authenticator") == "webroot"
    assert f"{edge.settings.domains[0]} = {edge.settings.webroot}" in text
    kinds = [e.kind for e in Ledger(edge.settings.ledger_path).read().entries]
    assert kinds[-2:] == ["fix", "renew_dry_run"]
    assert "order" not in kinds[3:]  # fixing the conf ordered nothing
    assert Manager(edge.settings).ensure().notes == []  # fixed once, then left alone


def test_staging_certificate_under_production_is_replaced_once(
    make_edge: EdgeFactory, rig: Rig
) -> None:
    # The staging pebble's issuer differs from production's; configure the rule to know it.
    edge = make_edge(acme_staging_issuer_pattern=f"^CN={rig.staging.intermediate_cn}$")
    s = edge.settings
    # Someone issued from staging into the production volume (e.g. a test deploy).
    staging_only = s.model_copy(update={"acme_server": s.acme_staging_server})
    result = Certbot(staging_only).certonly(
        s.acme_staging_server, s.lineage, dry_run=False, renew=False
    )
    assert result.ok, result.output
    staged = load_cert(s.live_dir / "cert.pem")
    assert staged is not None
    assert is_staging(Context(s), staged)

    first = Manager(s).ensure()
    second = Manager(s).ensure()

    assert first.action == "issued", first
    assert "staging certificate" in first.message
    assert second.action == "nothing", second
    replaced = load_cert(s.live_dir / "cert.pem")
    assert replaced is not None
    assert not is_staging(Context(s), replaced)
    assert replaced.issuer == f"CN={rig.production.intermediate_cn}"
    orders = [e for e in Ledger(s.ledger_path).read().entries if e.kind == "order"]
    # the staging certificate certbot saved outside the manager is counted (not production),
    # then exactly one production order
    assert [(e.production, e.observed) for e in orders] == [(False, True), (True, False)]
    served = fetch_served_cert(LOOPBACK, s.https_port, s.domains[0])
    assert served.serial == replaced.serial
