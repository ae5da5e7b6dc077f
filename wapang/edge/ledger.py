"""The append-only ledger (JSON lines) of ACME attempts, kept in the certificate volume.

It is the manager's memory across restarts: a container that restarts in a loop reads it and
orders nothing new while the budget, a Retry-After or the backoff says no. All the decisions
below are pure functions of (entries, now) so they can be unit-tested without certbot.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

# order: a real production/staging issuance; dry_run: certonly --dry-run before the first
# production order; renew_dry_run: proof that `certbot renew` works; fix: a repaired renewal conf.
Kind = Literal["order", "dry_run", "renew_dry_run", "fix"]
ATTEMPT_KINDS: frozenset[str] = frozenset({"order", "dry_run"})


def name_set_key(names: Iterable[str]) -> str:
    """Let's Encrypt counts orders per exact set of names, regardless of order and case."""
    return ",".join(sorted({name.strip().lower() for name in names}))


@dataclass(frozen=True)
class LedgerEntry:
    ts: datetime
    kind: Kind
    names: str  # name_set_key()
    server: str
    production: bool
    ok: bool
    forced: bool = False
    reason: str = ""
    serial: str | None = None
    error: str | None = None
    rate_limited: bool = False
    retry_after: datetime | None = None

    def to_json(self) -> str:
        data = asdict(self)
        data["ts"] = self.ts.isoformat()
        data["retry_after"] = self.retry_after.isoformat() if self.retry_after else None
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, line: str) -> LedgerEntry:
        data = json.loads(line)
        data["ts"] = _parse_time(data["ts"])
        if data.get("retry_after"):
            data["retry_after"] = _parse_time(data["retry_after"])
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in data.items() if key in known})


def _parse_time(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class LedgerRead:
    entries: list[LedgerEntry] = field(default_factory=list)
    skipped_lines: int = 0  # e.g. a line cut short by a crash mid-write


def parse_ledger(lines: Iterable[str]) -> LedgerRead:
    result = LedgerRead()
    for line in lines:
        if not line.strip():
            continue
        try:
            result.entries.append(LedgerEntry.from_json(line))
        except (ValueError, KeyError, TypeError):
            result.skipped_lines += 1
    return result


class Ledger:
    """A JSON-lines file; appends are fsynced so a crash cannot lose a recorded order."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> LedgerRead:
        if not self.path.exists():
            return LedgerRead()
        with self.path.open(encoding="utf-8") as handle:
            return parse_ledger(handle)

    def append(self, entry: LedgerEntry) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(entry.to_json() + "\n")
            handle.flush()
            os.fsync(handle.fileno())


# ---- pure decisions ----------------------------------------------------------------------


def for_names(entries: Iterable[LedgerEntry], names: str) -> list[LedgerEntry]:
    return [entry for entry in entries if entry.names == names]


def production_orders_in_window(
    entries: Sequence[LedgerEntry], names: str, now: datetime, window: timedelta
) -> list[LedgerEntry]:
    """Successful production orders for this exact set: what the CA's limit counts."""
    since = now - window
    return [
        entry
        for entry in for_names(entries, names)
        if entry.kind == "order" and entry.production and entry.ok and entry.ts > since
    ]


def budget_allowed_at(
    entries: Sequence[LedgerEntry], names: str, now: datetime, max_orders: int, window: timedelta
) -> datetime | None:
    """None when an order is within budget, else the moment the oldest counted order expires."""
    counted = sorted(entry.ts for entry in production_orders_in_window(entries, names, now, window))
    if len(counted) < max_orders:
        return None
    # After the (len - max + 1) oldest orders leave the window, one slot is free again.
    return counted[len(counted) - max_orders] + window


def budget_left(
    entries: Sequence[LedgerEntry], names: str, now: datetime, max_orders: int, window: timedelta
) -> int:
    return max(0, max_orders - len(production_orders_in_window(entries, names, now, window)))


def retry_after_in_force(
    entries: Sequence[LedgerEntry], names: str, now: datetime
) -> datetime | None:
    """The latest Retry-After the CA gave for this set, if it is still in the future."""
    times = [entry.retry_after for entry in for_names(entries, names) if entry.retry_after]
    latest = max(times, default=None)
    return latest if latest and latest > now else None


def ever_ordered_in_production(entries: Sequence[LedgerEntry], names: str) -> bool:
    return any(
        entry.kind == "order" and entry.production and entry.ok
        for entry in for_names(entries, names)
    )


def consecutive_failures(entries: Sequence[LedgerEntry], names: str) -> int:
    """Failed attempts since the last successful production order (dry runs don't reset it)."""
    count = 0
    for entry in reversed(for_names(entries, names)):
        if entry.kind not in ATTEMPT_KINDS:
            continue
        if entry.ok and entry.kind == "order":
            break
        if not entry.ok:
            count += 1
    return count


def backoff_delay(failures: int, base: timedelta, maximum: timedelta) -> timedelta:
    """0, base, 2·base, 4·base … capped at maximum."""
    if failures <= 0:
        return timedelta(0)
    # Cap the exponent first so a long failure history cannot overflow.
    factor = 1 << min(failures - 1, 32)
    return min(base * factor, maximum)


def backoff_until(
    entries: Sequence[LedgerEntry], names: str, base: timedelta, maximum: timedelta
) -> datetime | None:
    failures = consecutive_failures(entries, names)
    if failures == 0:
        return None
    last_failure = max(
        entry.ts
        for entry in for_names(entries, names)
        if entry.kind in ATTEMPT_KINDS and not entry.ok
    )
    return last_failure + backoff_delay(failures, base, maximum)


def last_attempts(entries: Sequence[LedgerEntry], names: str, count: int) -> list[LedgerEntry]:
    attempts = [entry for entry in for_names(entries, names) if entry.kind in ATTEMPT_KINDS]
    return attempts[-count:]


def utcnow() -> datetime:
    return datetime.now(UTC)
