"""ARI (RFC 9773) renewals and ACME profiles against pebble 2.10: a renewal the CA's window
calls for carries `replaces`, pebble accepts it as a replacement, the ledger records it as
exempt from the budget, and certbot's lineage layout keeps working; CERT_PROFILE reaches the
CA and the renewal window follows the certificate's real lifetime."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from harness.processes import LOOPBACK
from wapang.edge.certbot import Certbot, renewal_param
from wapang.edge.certificates import fetch_served_cert, load_cert
from wapang.edge.ledger import Ledger
from wapang.edge.manager import Manager

from .fixtures import AriCAs, EdgeFactory, Rig
from .rig import PROFILE_SECONDS, CaCounts, Edge, run_cli

pytestmark = pytest.mark.edge


def ari_edge(make_edge: EdgeFactory, cas: AriCAs, **overrides: Any) -> Edge:
    return make_edge(
        acme_server=cas.production.directory_url,
        acme_staging_server=cas.staging.directory_url,
        **overrides,
    )


def make_renewal_due(edge: Edge, cas: AriCAs) -> None:
    """The CA moves this certificate's window into the past (as Let's Encrypt does when it
    wants early renewals); the manager's cached answer is dropped as if its Retry-After passed."""
    now = datetime.now(UTC)
    pem = (edge.settings.live_dir / "cert.pem").read_text()
    cas.production.set_renewal_info(pem, now - timedelta(hours=2), now - timedelta(hours=1))
    (edge.settings.state_dir / "renewal-info.json").unlink(missing_ok=True)


def test_ari_renewal_carries_replaces_and_is_exempt_from_the_budget(
    make_edge: EdgeFactory, ari_cas: AriCAs
) -> None:
    edge = ari_edge(make_edge, ari_cas)
    s = edge.settings
    assert Manager(s).ensure().action == "issued"
    not_yet = Manager(s).ensure()  # the CA's window is weeks away: nothing to do
    assert not_yet.action == "nothing", not_yet
    old = load_cert(s.live_dir / "cert.pem")
    assert old is not None
    budget_before = json.loads(run_cli(edge, "status", "--json").stdout)["budget_left"]
    make_renewal_due(edge, ari_cas)
    replacements = ari_cas.production.replacements()
    before = ari_cas.production.counts()

    renewed = Manager(s).ensure()

    assert renewed.action == "issued", renewed
    assert "ARI renewal" in renewed.message
    assert ari_cas.production.counts() - before == CaCounts(1, 1, 1)
    assert ari_cas.production.replacements() == replacements + 1  # pebble saw `replaces`
    new = load_cert(s.live_dir / "cert.pem")
    assert new is not None
    assert new.serial != old.serial
    assert fetch_served_cert(LOOPBACK, s.https_port, s.domains[0]).serial == new.serial
    last = [e for e in Ledger(s.ledger_path).read().entries if e.kind == "order"][-1]
    assert (last.ok, last.ari, last.serial) == (True, True, new.serial_hex)
    assert last.replaces
    status = json.loads(run_cli(edge, "status", "--json").stdout)
    assert status["budget_left"] == budget_before  # exempt
    assert status["healthy"], status
    # certbot's layout is intact: version 2 in archive/, and `certbot renew` still works
    assert (s.live_dir / "cert.pem").resolve().name == "cert2.pem"
    proof = Certbot(s).renew_dry_run(s.lineage)
    assert proof.ok, proof.output


def test_already_replaced_falls_back_to_a_plain_order(
    make_edge: EdgeFactory, ari_cas: AriCAs
) -> None:
    edge = ari_edge(make_edge, ari_cas)
    s = edge.settings
    assert Manager(s).ensure().action == "issued"
    backup = s.certbot_config_dir.parent / "volume-backup"
    shutil.copytree(s.certbot_config_dir, backup, symlinks=True)
    make_renewal_due(edge, ari_cas)
    assert Manager(s).ensure().action == "issued"  # replaced by an ARI renewal
    # The volume is restored from the backup: its certificate was replaced already.
    shutil.rmtree(s.certbot_config_dir)
    shutil.copytree(backup, s.certbot_config_dir, symlinks=True)
    make_renewal_due(edge, ari_cas)

    outcome = Manager(s).ensure()

    assert outcome.action == "issued", outcome
    orders = [e for e in Ledger(s.ledger_path).read().entries if e.kind == "order"]
    refused, plain = orders[-2], orders[-1]
    assert (refused.ok, refused.ari, refused.problems[0]["type"]) == (
        False,
        True,
        "alreadyReplaced",
    )
    assert (plain.ok, plain.ari) == (True, False)  # counted against the budget


@pytest.mark.parametrize("profile", ["shortlived", "tlsserver"])
def test_cert_profile_reaches_the_ca_and_sets_the_renewal_window(
    make_edge: EdgeFactory, ari_cas: AriCAs, profile: str
) -> None:
    edge = ari_edge(make_edge, ari_cas, cert_profile=profile, domain=f"{profile}.wapang.test")
    s = edge.settings

    assert Manager(s).ensure().action == "issued"

    cert = load_cert(s.live_dir / "cert.pem")
    assert cert is not None
    assert abs(cert.lifetime.total_seconds() - PROFILE_SECONDS[profile]) < 3600
    assert renewal_param(s.renewal_conf.read_text(), "required_profile") == profile
    status = json.loads(run_cli(edge, "status", "--json").stdout)
    assert status["healthy"], status  # a 160-hour certificate is not "fewer than 14 days"
    next_renewal = datetime.fromisoformat(status["next_renewal"])
    assert cert.not_before < next_renewal < cert.not_after  # within the real lifetime


def test_a_profile_the_ca_does_not_offer_is_refused_before_any_order(
    make_edge: EdgeFactory, rig: Rig
) -> None:
    edge = make_edge(cert_profile="tlsserver")  # bookworm's pebble 2.4: no profiles
    before = rig.production.counts(), rig.staging.counts()

    outcome = Manager(edge.settings).ensure()

    assert outcome.action == "failed"
    assert "does not offer CERT_PROFILE=tlsserver" in outcome.message
    assert (rig.production.counts(), rig.staging.counts()) == before
