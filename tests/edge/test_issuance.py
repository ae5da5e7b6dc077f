"""From nothing to a served certificate, and nothing more on the next pass."""

from __future__ import annotations

import pytest

from wapang.edge.certificates import fetch_served_cert, load_cert
from wapang.edge.ledger import Ledger
from wapang.edge.manager import Manager

from .fixtures import EdgeFactory, Rig
from .rig import CaCounts

pytestmark = pytest.mark.edge


def test_from_nothing_nginx_starts_then_serves_the_issued_certificate(
    make_edge: EdgeFactory, rig: Rig
) -> None:
    edge = make_edge()
    s = edge.settings
    before = fetch_served_cert(s.verify_host, s.https_port, s.domains[0])
    assert before.is_placeholder(), before.issuer
    production_before, staging_before = rig.production.counts(), rig.staging.counts()

    outcome = Manager(s).ensure()

    assert outcome.action == "issued", outcome
    on_disk = load_cert(s.live_dir / "cert.pem")
    assert on_disk is not None
    served = fetch_served_cert(s.verify_host, s.https_port, s.domains[0])
    assert served.serial == on_disk.serial
    assert "Pebble Intermediate CA" in served.issuer
    kinds = [(e.kind, e.production, e.ok) for e in Ledger(s.ledger_path).read().entries]
    # a new ledger, the staging dry run, exactly one production order, then the renewal proof
    # (a dry run of `certbot renew`, which goes to STAGING: fault 6)
    assert kinds == [
        ("start", True, True),
        ("dry_run", False, True),
        ("order", True, True),
        ("renew_dry_run", False, True),
    ]
    # What the CAs saw: one order, one validation and one certificate at production; the two
    # dry runs at staging (certonly --dry-run and renew --dry-run), which issue test certs.
    assert rig.production.counts() - production_before == CaCounts(1, 1, 1)
    assert rig.staging.counts() - staging_before == CaCounts(2, 2, 2)
    # both ledger copies hold the same history: the host directory and the volume's mirror
    assert Ledger(s.ledger_path).read() == Ledger(s.ledger_mirror_path).read()

    second = Manager(s).ensure()
    assert second.action == "nothing", second
    assert len(Ledger(s.ledger_path).read().entries) == 4
    assert rig.production.counts() - production_before == CaCounts(1, 1, 1)
