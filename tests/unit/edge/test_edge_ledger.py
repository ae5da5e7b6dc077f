"""Pure decisions of the ledger: budget window, backoff schedule, Retry-After, parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from wapang.edge.ledger import (
    Ledger,
    LedgerEntry,
    backoff_delay,
    backoff_until,
    budget_allowed_at,
    budget_left,
    consecutive_failures,
    effective_max_orders,
    ever_ordered_in_production,
    history_lost_at,
    name_set_key,
    parse_ledger,
    retry_after_in_force,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
WEEK = timedelta(hours=168)
NAMES = name_set_key(["api.example.com", "www.example.com"])


def entry(hours_ago: float, kind: str = "order", ok: bool = True, **extra: object) -> LedgerEntry:
    return LedgerEntry(
        ts=NOW - timedelta(hours=hours_ago),
        kind=kind,  # type: ignore[arg-type]
        names=str(extra.pop("names", NAMES)),
        server="https://acme.example/dir",
        production=bool(extra.pop("production", True)),
        ok=ok,
        **extra,  # type: ignore[arg-type]
    )


def test_name_set_key_ignores_order_case_and_duplicates() -> None:
    assert name_set_key(["WWW.example.com", "api.example.com", "api.example.com"]) == NAMES


def test_budget_allows_three_orders_per_window_then_says_when() -> None:
    two = [entry(10), entry(5)]
    assert budget_allowed_at(two, NAMES, NOW, 3, WEEK) is None
    assert budget_left(two, NAMES, NOW, 3, WEEK) == 1
    three = [entry(100), *two]
    assert budget_allowed_at(three, NAMES, NOW, 3, WEEK) == NOW - timedelta(hours=100) + WEEK
    assert budget_left(three, NAMES, NOW, 3, WEEK) == 0


def test_budget_ignores_old_failed_staging_and_other_name_sets() -> None:
    entries = [
        entry(169),  # outside the window
        entry(1, ok=False),  # failures are the backoff's business
        entry(1, kind="dry_run", production=False),
        entry(1, names="other.example.com"),
        entry(2),
    ]
    assert budget_left(entries, NAMES, NOW, 3, WEEK) == 2


def test_budget_with_more_orders_than_allowed_frees_a_slot_when_enough_expire() -> None:
    four = [entry(150), entry(100), entry(50), entry(1)]  # e.g. after a --force
    assert budget_allowed_at(four, NAMES, NOW, 3, WEEK) == NOW - timedelta(hours=100) + WEEK


def test_backoff_schedule_doubles_from_minutes_up_to_hours() -> None:
    base, cap = timedelta(minutes=5), timedelta(hours=6)
    delays = [backoff_delay(n, base, cap) for n in range(10)]
    assert delays[:5] == [timedelta(0), base, 2 * base, 4 * base, 8 * base]
    assert delays[7] == 64 * base  # 5 h 20 min
    assert delays[8] == cap == backoff_delay(10_000, base, cap)


def test_backoff_counts_failures_since_the_last_production_success() -> None:
    entries = [
        entry(10, ok=False),
        entry(9),  # success resets
        entry(3, kind="dry_run", production=False, ok=True),  # a passing dry run does not
        entry(2, ok=False),
        entry(1, kind="dry_run", production=False, ok=False),
        entry(0.5, kind="renew_dry_run", ok=False),  # not an ordering attempt
    ]
    assert consecutive_failures(entries, NAMES) == 2
    until = backoff_until(entries, NAMES, timedelta(minutes=5), timedelta(hours=6))
    assert until == NOW - timedelta(hours=1) + timedelta(minutes=10)
    assert backoff_until([entry(1)], NAMES, timedelta(minutes=5), timedelta(hours=6)) is None


def test_retry_after_is_in_force_until_it_passes() -> None:
    later = NOW + timedelta(hours=3)
    entries = [entry(1, ok=False, retry_after=later), entry(2, ok=False, retry_after=NOW)]
    assert retry_after_in_force(entries, NAMES, NOW) == later
    assert retry_after_in_force(entries, NAMES, later) is None
    assert retry_after_in_force(entries, "other.example.com", NOW) is None


def test_first_order_detection() -> None:
    assert not ever_ordered_in_production([entry(1, ok=False)], NAMES)
    assert not ever_ordered_in_production([entry(1, kind="dry_run", production=False)], NAMES)
    assert ever_ordered_in_production([entry(1)], NAMES)


def test_ledger_round_trip_and_tolerates_a_torn_last_line(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "volume" / "ledger.jsonl")
    first = entry(2, ok=False, error="boom", rate_limited=True, retry_after=NOW)
    ledger.append(first)
    ledger.append(entry(1, serial="0A1B"))
    with ledger.path.open("a") as handle:
        handle.write('{"ts": "2026-11-25T1')  # a crash mid-write
    read = ledger.read()
    assert read.entries[0] == first
    assert read.entries[1].serial == "0A1B"
    assert read.skipped_lines == 1


def test_parse_ledger_accepts_naive_times_and_unknown_fields() -> None:
    line = (
        '{"ts": "2026-11-25T10:00:00", "kind": "order", "names": "a.example", "server": "s",'
        ' "production": true, "ok": true, "added_later": 1}'
    )
    (parsed,) = parse_ledger([line, "", "not json"]).entries
    assert parsed.ts == datetime(2026, 11, 25, 10, tzinfo=UTC)


def test_two_copies_merge_and_heal(tmp_path: Path) -> None:
    host, volume = tmp_path / "host" / "ledger.jsonl", tmp_path / "volume" / "ledger.jsonl"
    both = Ledger(host, volume)
    both.append(entry(3))
    Ledger(volume).append(entry(2, serial="0B"))  # written while the host copy was absent
    Ledger(host).append(entry(1, serial="0C"))
    assert [e.serial for e in both.read().entries] == [None, "0B", "0C"]  # oldest first, once
    assert both.heal() == [host, volume]
    assert Ledger(host).read() == Ledger(volume).read() == both.read()
    assert both.heal() == []
    volume.unlink()  # the volume is lost: nothing is
    assert len(both.read().entries) == 3


def test_ari_renewals_do_not_consume_the_budget() -> None:
    window = timedelta(hours=168)
    entries = [entry(1, ari=True), entry(2, ari=True), entry(3, ari=True), entry(4)]
    assert budget_left(entries, NAMES, NOW, 3, window) == 2


def test_lost_history_allows_one_order_per_window() -> None:
    window = timedelta(hours=168)
    start = entry(10, kind="start", history_lost=True)
    assert effective_max_orders([start], NOW, 3, window) == 1
    assert budget_left([start, entry(5)], NAMES, NOW, 3, window) == 0
    allowed = budget_allowed_at([start, entry(5)], NAMES, NOW, 3, window)
    assert allowed == start.ts + window
    assert history_lost_at([start]) == start.ts
    assert effective_max_orders([start], NOW + window, 3, window) == 3
