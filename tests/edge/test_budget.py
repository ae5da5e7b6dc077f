"""The rate-limit guards, exercised the way production meets them: a new manager process on
every pass (a container restarting in a loop), with the CA unreachable for a while."""

from __future__ import annotations

import itertools
import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from harness.processes import free_port
from wapang.edge.ledger import Ledger, LedgerEntry, backoff_delay, name_set_key
from wapang.edge.manager import Manager

from .fixtures import EdgeFactory
from .rig import EXIT_FAILED, EXIT_REFUSED, Edge, run_cli

pytestmark = pytest.mark.edge


def test_twenty_passes_with_ca_down_then_up_order_exactly_once(make_edge: EdgeFactory) -> None:
    edge = make_edge(backoff_base_seconds=2, backoff_max_seconds=4)
    dead = f"https://127.0.0.1:{free_port()}/dir"  # "pebble stopped": connection refused
    down = {"ACME_SERVER": dead, "ACME_STAGING_SERVER": dead.replace("/dir", "/staging")}
    codes: list[int] = []
    for _ in range(10):
        codes.append(run_cli(edge, "ensure", **down).returncode)
    assert set(codes) <= {EXIT_FAILED, EXIT_REFUSED}, codes
    assert EXIT_REFUSED in codes  # backoff honoured by fresh processes

    entries = Ledger(edge.settings.ledger_path).read().entries
    failures = [e for e in entries if not e.ok]
    assert failures
    assert all(e.kind == "dry_run" for e in failures)
    for number, (earlier, later) in enumerate(itertools.pairwise(failures), 1):
        wait = backoff_delay(number, timedelta(seconds=2), timedelta(seconds=4))
        assert later.ts - earlier.ts >= wait, (number, earlier.ts, later.ts)

    status_run = run_cli(edge, "status", "--json")
    assert status_run.returncode == EXIT_FAILED  # no certificate
    status = json.loads(status_run.stdout)
    if len(failures) >= 2:
        assert "the last two attempts failed" in status["problems"]
    assert status["last_attempt"]["ok"] is False
    blocked = status["blocked_until"]
    if blocked:  # wait out the backoff so the CA coming back is used on the next pass
        time.sleep(max(0.0, (datetime.fromisoformat(blocked) - datetime.now(UTC)).total_seconds()))

    outputs = [run_cli(edge, "ensure") for _ in range(10)]
    assert outputs[0].returncode == 0, outputs[0].stderr
    assert "issued" in outputs[0].stderr
    for later_pass in outputs[1:]:
        assert later_pass.returncode == 0, later_pass.stderr
        assert later_pass.stderr.startswith("nothing"), later_pass.stderr

    entries = Ledger(edge.settings.ledger_path).read().entries
    production_orders = [e for e in entries if e.kind == "order" and e.production]
    assert len(production_orders) == 1
    assert production_orders[0].ok


def _seed_orders(edge: Edge, hours_ago: list[float]) -> list[datetime]:
    ledger = Ledger(edge.settings.ledger_path)
    now = datetime.now(UTC)
    times = [now - timedelta(hours=h) for h in hours_ago]
    for ts in times:
        ledger.append(
            LedgerEntry(
                ts=ts,
                kind="order",
                names=name_set_key(edge.settings.domains),
                server=edge.settings.acme_server,
                production=True,
                ok=True,
                serial="AB",
            )
        )
    return times


def test_budget_refuses_the_fourth_order_and_says_when(make_edge: EdgeFactory) -> None:
    edge = make_edge()
    times = _seed_orders(edge, [1, 2, 3])

    refused = run_cli(edge, "ensure")

    assert refused.returncode == EXIT_REFUSED, refused.stderr
    assert "budget spent: 3 production orders" in refused.stderr
    allowed = (min(times) + timedelta(hours=168)).strftime("%Y-%m-%d %H:%M")
    assert allowed in refused.stderr.replace("\n", " ")
    assert not (edge.settings.certbot_config_dir / "accounts").exists()  # certbot never ran
    assert len(Ledger(edge.settings.ledger_path).read().entries) == 3

    status = run_cli(edge, "status", "--json")
    assert status.returncode == EXIT_FAILED  # no certificate
    report = json.loads(status.stdout)
    assert report["budget_left"] == 0
    assert "budget spent" in report["blocked_reason"]

    forced = run_cli(edge, "ensure", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "--force" in forced.stderr
    assert "FORCED" in forced.stderr
    last_order = [e for e in Ledger(edge.settings.ledger_path).read().entries if e.kind == "order"]
    assert last_order[-1].forced
    assert last_order[-1].ok


def test_recorded_retry_after_blocks_orders_across_restarts(make_edge: EdgeFactory) -> None:
    edge = make_edge()
    retry_at = datetime.now(UTC) + timedelta(hours=5)
    Ledger(edge.settings.ledger_path).append(
        LedgerEntry(
            ts=datetime.now(UTC),
            kind="order",
            names=name_set_key(edge.settings.domains),
            server=edge.settings.acme_server,
            production=True,
            ok=False,
            error="too many certificates (5) already issued for this exact set of identifiers",
            rate_limited=True,
            retry_after=retry_at,
        )
    )
    outcome = Manager(edge.settings).ensure()
    assert outcome.action == "refused"
    assert "retry after" in outcome.message
    assert outcome.retry_at == retry_at
    assert not (edge.settings.certbot_config_dir / "accounts").exists()


def test_status_and_the_loop_on_a_healthy_edge(issued_edge: Edge) -> None:
    status = run_cli(issued_edge, "status", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    report = json.loads(status.stdout)
    assert report["environment"] == "production"
    assert report["names"] == issued_edge.settings.domains
    assert 89 < report["days_left"] <= 90
    assert report["budget_left"] == 2  # the shared issuance counted once
    assert report["last_attempt"]["kind"] == "order"
    assert report["healthy"]
    not_after = datetime.fromisoformat(report["not_after"])
    next_renewal = datetime.fromisoformat(report["next_renewal"])
    assert timedelta(days=29) < not_after - next_renewal <= timedelta(days=30)
    table = run_cli(issued_edge, "status")
    assert "production" in table.stdout
    assert "healthy" in table.stdout

    loop = run_cli(issued_edge, "run", "--interval", "0", "--max-passes", "2")
    assert loop.returncode == 0, loop.stderr
    assert loop.stderr.count("nothing: certificate valid") == 2
