"""From nothing to a served certificate, and nothing more on the next pass."""

from __future__ import annotations

import pytest

from wapang.edge.certificates import fetch_served_cert, load_cert
from wapang.edge.ledger import Ledger
from wapang.edge.manager import Manager

from .conftest import EdgeFactory

pytestmark = pytest.mark.edge


def test_from_nothing_nginx_starts_then_serves_the_issued_certificate(
    make_edge: EdgeFactory,
) -> None:
    edge = make_edge()
    s = edge.settings
    before = fetch_served_cert(s.verify_host, s.https_port, s.domains[0])
    assert before.is_placeholder(), before.issuer

    outcome = Manager(s).ensure()

    assert outcome.action == "issued", outcome
    on_disk = load_cert(s.live_dir / "cert.pem")
    assert on_disk is not None
    served = fetch_served_cert(s.verify_host, s.https_port, s.domains[0])
    assert served.serial == on_disk.serial
    assert "Pebble Intermediate CA" in served.issuer
    kinds = [(e.kind, e.production, e.ok) for e in Ledger(s.ledger_path).read().entries]
    # staging dry run first, then exactly one production order, then the renewal proof
    assert kinds == [("dry_run", False, True), ("order", True, True), ("renew_dry_run", True, True)]

    second = Manager(s).ensure()
    assert second.action == "nothing", second
    assert len(Ledger(s.ledger_path).read().entries) == 3
