"""Issue 9's faults, each replayed against real nginx, certbot and pebble: orders and
validations are counted at pebble (production and staging apart), the served serial read
from nginx."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta

import pytest

from harness.processes import LOOPBACK, free_port
from wapang.edge.certbot import Certbot
from wapang.edge.certificates import fetch_served_cert, load_cert
from wapang.edge.ledger import Ledger
from wapang.edge.manager import Manager

from .fixtures import EdgeFactory, Rig
from .rig import (
    BLOCKED_DOMAIN,
    EXIT_CONFIG,
    EXIT_FAILED,
    CaCounts,
    Edge,
    run_cli,
    start_pebble,
)

pytestmark = pytest.mark.edge

NOTHING = CaCounts(0, 0, 0)


def served_serial(edge: Edge) -> int:
    s = edge.settings
    return fetch_served_cert(LOOPBACK, s.https_port, s.domains[0]).serial


def ca_counts(rig: Rig) -> tuple[CaCounts, CaCounts]:
    return rig.production.counts(), rig.staging.counts()


def ca_delta(rig: Rig, before: tuple[CaCounts, CaCounts]) -> tuple[CaCounts, CaCounts]:
    production, staging = ca_counts(rig)
    return production - before[0], staging - before[1]


# ---- 1. a lost live/ is repaired or adopted, never re-ordered -------------------------------


def test_lost_live_dir_is_relinked_from_archive_with_no_order(issued_edge: Edge, rig: Rig) -> None:
    s = issued_edge.settings
    on_disk = load_cert(s.live_dir / "cert.pem")
    assert on_disk is not None
    shutil.rmtree(s.live_dir)  # archive/ and renewal/ left, as in the issue
    before = ca_counts(rig)

    outcome = Manager(s).ensure()

    assert outcome.ok, outcome
    assert any("relinked to archive version" in note for note in outcome.notes), outcome.notes
    assert ca_delta(rig, before) == (NOTHING, NOTHING)
    assert served_serial(issued_edge) == on_disk.serial
    status = json.loads(run_cli(issued_edge, "status", "--json").stdout)
    assert status["healthy"], status
    assert status["serial"] == on_disk.serial_hex


def test_a_sibling_lineage_certbot_made_is_adopted_and_counted(issued_edge: Edge, rig: Rig) -> None:
    s = issued_edge.settings
    shutil.rmtree(s.live_dir)
    # What the issue saw: certbot, finding no live/, saves a new lineage <name>-0001.
    made = Certbot(s).certonly(s.acme_server, s.lineage, dry_run=False, renew=True)
    assert made.ok, made.output
    sibling = load_cert(s.certbot_config_dir / "live" / f"{s.lineage}-0001" / "cert.pem")
    assert sibling is not None
    before = ca_counts(rig)

    outcome = Manager(s).ensure()

    assert outcome.ok, outcome
    assert ca_delta(rig, before) == (NOTHING, NOTHING)  # adopted, not re-ordered
    assert served_serial(issued_edge) == sibling.serial
    assert any("superseded" in note for note in outcome.notes), outcome.notes
    # only the adopted lineage is left for `certbot renew`: no double renewal
    assert sorted(p.name for p in (s.certbot_config_dir / "renewal").glob("*.conf")) == [
        f"{s.lineage}-0001.conf"
    ]
    orders = [e for e in Ledger(s.ledger_path).read().entries if e.kind == "order" and e.ok]
    assert sibling.serial_hex in {e.serial for e in orders if e.observed}  # counted
    status = json.loads(run_cli(issued_edge, "status", "--json").stdout)
    assert status["lineage"] == f"{s.lineage}-0001"
    assert status["healthy"], status
    assert status["budget_left"] == 1  # the shared issuance + the order made outside


# ---- 2. losing the volume (or the ledger) does not reset the budget ------------------------


def test_volume_losses_cannot_spend_more_than_the_budget(make_edge: EdgeFactory, rig: Rig) -> None:
    edge = make_edge(budget_max_orders=2)
    s = edge.settings
    before = ca_counts(rig)
    codes = []
    for _ in range(4):
        codes.append(run_cli(edge, "ensure").returncode)
        shutil.rmtree(s.certbot_config_dir)  # `docker compose down -v`: the volume is gone
    production, _ = ca_delta(rig, before)
    assert production.issued == 2, codes  # the budget, not one per loss
    assert codes == [0, 0, 3, 3]
    ledger = Ledger(s.ledger_path).read().entries  # the host copy survived every loss
    assert len([e for e in ledger if e.kind == "order" and e.production and e.ok]) == 2


def test_lost_ledger_is_rebuilt_from_archive_and_stays_conservative(
    issued_edge: Edge, rig: Rig
) -> None:
    s = issued_edge.settings
    for path in s.ledger_paths:
        path.unlink(missing_ok=True)
    before = ca_counts(rig)

    status = json.loads(run_cli(issued_edge, "status", "--json").stdout)
    assert status["budget_left"] == 2  # the certificate in archive/ counts
    outcome = Manager(s).ensure()
    assert outcome.action == "nothing", outcome
    assert ca_delta(rig, before) == (NOTHING, NOTHING)

    status = json.loads(run_cli(issued_edge, "status", "--json").stdout)
    assert "history known since" in status["history_note"]
    assert status["budget_left"] == 0  # one order per window while history is unknown
    refused = run_cli(issued_edge, "ensure", "--force")  # --force still orders, loudly
    assert refused.returncode == 0, refused.stderr


# ---- 3. the CA's reason reaches the operator -----------------------------------------------


def test_the_cas_problem_type_and_detail_are_recorded_and_printed(
    make_edge: EdgeFactory, rig: Rig
) -> None:
    edge = make_edge(domain=BLOCKED_DOMAIN)
    before = ca_counts(rig)

    result = run_cli(edge, "ensure")

    assert result.returncode == EXIT_FAILED, result.stderr
    assert "rejectedIdentifier" in result.stderr, result.stderr
    assert "Ask for help" not in result.stderr
    failed = [e for e in Ledger(edge.settings.ledger_path).read().entries if not e.ok]
    assert failed[-1].kind == "dry_run"
    assert failed[-1].problems[0]["type"] == "rejectedIdentifier"
    assert failed[-1].problems[0]["detail"]
    status = json.loads(run_cli(edge, "status", "--json").stdout)
    assert "rejectedIdentifier" in status["last_attempt"]["error"]
    assert ca_delta(rig, before)[0] == NOTHING  # production never asked


def test_a_validation_the_ca_cannot_make_reports_its_connection_error(
    make_edge: EdgeFactory, rig: Rig
) -> None:
    """This host serves the token (the preflight passes) but the CA cannot reach it (a
    firewall in between): certbot says "Some challenges have failed"; the CA's detail is
    what must reach the operator."""
    cut_off = start_pebble(
        "pebble-cut-off", rig.root, rig.root / "pki", rig.ca_file, free_port(), rig.dns_port
    )
    try:
        edge = make_edge(acme_staging_server=cut_off.directory_url)
        result = run_cli(edge, "ensure")
        assert cut_off.counts().validations == 1
    finally:
        cut_off.service.stop()
    assert result.returncode == EXIT_FAILED, result.stderr
    assert "connection refused" in result.stderr.lower(), result.stderr
    failed = [e for e in Ledger(edge.settings.ledger_path).read().entries if not e.ok][-1]
    assert failed.problems[0]["name"] == edge.settings.domains[0]
    assert failed.problems[0]["type"] == "connection"
    assert "refused" in failed.problems[0]["detail"].lower()


# ---- 4. and 5. inputs refused before any ACME request; no tracebacks; the loop goes on -------


def test_bad_inputs_are_all_refused_before_any_acme_request(
    make_edge: EdgeFactory, rig: Rig
) -> None:
    edge = make_edge()
    before = ca_counts(rig)
    names = ",".join(["*.wapang.test", "10.0.0.12", *(f"n{i}.wapang.test" for i in range(101))])

    result = run_cli(edge, "ensure", DOMAINS=names, CERT_EMAIL="not-an-email")

    assert result.returncode == EXIT_CONFIG, result.stderr
    for expected in ("wildcard", "IP address", "allows 100 per certificate", "CERT_EMAIL"):
        assert expected in result.stderr, (expected, result.stderr)
    assert "Traceback" not in result.stderr
    assert ca_delta(rig, before) == (NOTHING, NOTHING)


def test_unusable_directories_are_refused_before_any_order_and_the_loop_keeps_going(
    make_edge: EdgeFactory, rig: Rig
) -> None:
    edge = make_edge(backoff_base_seconds=0.1, backoff_max_seconds=0.2)
    blocker = edge.prefix.parent / "a-file"
    blocker.write_text("")
    before = ca_counts(rig)
    broken = {"WEBROOT": str(blocker / "webroot"), "LEDGER_DIR": str(blocker / "ledger")}

    once = run_cli(edge, "ensure", **broken)
    loop = run_cli(edge, "run", "--interval", "0", "--max-passes", "3", **broken)

    assert once.returncode == EXIT_CONFIG, once.stderr
    assert "WEBROOT" in once.stderr
    assert "LEDGER_DIR" in once.stderr
    assert "Traceback" not in once.stderr + loop.stderr
    assert loop.returncode == 0, loop.stderr
    assert loop.stderr.count("this host is not ready") == 3, loop.stderr
    assert ca_delta(rig, before) == (NOTHING, NOTHING)
    placeholder = fetch_served_cert(LOOPBACK, edge.settings.https_port, edge.settings.domains[0])
    assert placeholder.is_placeholder()  # nginx kept serving


# ---- 7. status tells when nginx is down, serves another certificate, or it expired ----------


def test_status_is_unhealthy_when_nginx_is_down_or_serves_another_certificate(
    issued_edge: Edge,
) -> None:
    s = issued_edge.settings
    Manager(s).bootstrap()
    (s.state_dir / "current").unlink()
    Manager(s).bootstrap()  # current -> placeholder again
    from wapang.edge.nginx import request_reload

    request_reload(s)
    wrong = run_cli(issued_edge, "status", "--json")
    assert wrong.returncode == EXIT_FAILED
    assert any("nginx serves serial" in p for p in json.loads(wrong.stdout)["problems"])

    issued_edge.nginx.stop()
    down = run_cli(issued_edge, "status", "--json")
    assert down.returncode == EXIT_FAILED
    assert any("nginx is not reachable" in p for p in json.loads(down.stdout)["problems"])


def test_status_says_expired_in_a_sentence(issued_edge: Edge) -> None:
    s = issued_edge.settings
    cert = load_cert(s.live_dir / "cert.pem")
    assert cert is not None
    later = cert.not_after + timedelta(hours=1)
    report = Manager(s, clock=lambda: later).status()
    assert not report.healthy
    assert report.problems[0].startswith("the certificate expired on ")
    assert "-0.0" not in " ".join(report.problems)
