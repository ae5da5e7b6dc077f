"""The append-only ledger (JSON lines) of ACME attempts, kept in two copies.

It is the manager's memory across restarts: a container that restarts in a loop reads it and
orders nothing new while the budget, a Retry-After or the backoff says no. The main copy lives
in a host directory (LEDGER_DIR), the mirror in the certificate volume; every append goes to
both and a read merges them, so losing either one loses nothing. All the decisions below are
pure functions of (entries, now) so they can be unit-tested without certbot.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from wapang.edge.errors import OrderRefused

log = logging.getLogger("wapang.edge")

# order: a real production/staging issuance (observed=True: found in archive/, made outside the
# manager or before its history); dry_run: certonly --dry-run before the first production
# order; renew_dry_run: proof that `certbot renew` works; fix: a repaired renewal conf or
# lineage; preflight: an order refused before any ACME request; start: the ledger's first line.
Kind = Literal["order", "dry_run", "renew_dry_run", "fix", "preflight", "start"]
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
    # The CA's problems, one per name where it says which: {"name", "type", "detail"}.
    problems: list[dict[str, str]] = field(default_factory=list)
    ari: bool = False  # the order carried `replaces` (RFC 9773): exempt from the CA's limits
    replaces: str | None = None  # ARI CertID of the replaced certificate
    observed: bool = False  # rebuilt from a certificate on disk, not recorded when ordered
    history_lost: bool = False  # start: certbot state existed but no ledger did

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


class LedgerWriteError(OSError):
    """No copy of the ledger could be written: ordering now would leave no record."""


class Ledger:
    """JSON-lines files (main copy first, then mirrors); appends are fsynced to every copy so a
    crash cannot lose a recorded order, and reads merge whatever copies exist."""

    def __init__(self, *paths: Path) -> None:
        self.paths = list(dict.fromkeys(paths))

    @property
    def path(self) -> Path:
        return self.paths[0]

    def _lines(self, path: Path) -> list[str]:
        if not path.exists():
            return []
        with path.open(encoding="utf-8") as handle:
            return [line.rstrip("\n") for line in handle if line.strip()]

    def exists(self) -> bool:
        return any(path.exists() for path in self.paths)

    def read(self) -> LedgerRead:
        """Every copy's lines once each, oldest first."""
        merged = dict.fromkeys(line for path in self.paths for line in self._lines(path))
        result = parse_ledger(merged)
        result.entries.sort(key=lambda entry: entry.ts)
        return result

    def heal(self) -> list[Path]:
        """Give every copy the lines it lacks (a lost volume, a new host directory)."""
        everything = dict.fromkeys(line for path in self.paths for line in self._lines(path))
        healed = []
        for path in self.paths:
            missing = [line for line in everything if line not in set(self._lines(path))]
            if missing:
                self._write_lines(path, missing)
                healed.append(path)
        return healed

    def append(self, entry: LedgerEntry) -> None:
        errors = []
        for path in self.paths:
            try:
                self._write_lines(path, [entry.to_json()])
            except OSError as exc:
                errors.append(f"{path}: {exc.strerror or exc}")
        if len(errors) == len(self.paths):
            raise LedgerWriteError("cannot write the ledger: " + "; ".join(errors))
        for error in errors:
            log.warning("ledger copy not written: %s", error)

    @staticmethod
    def _write_lines(path: Path, lines: list[str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write("".join(line + "\n" for line in lines))
            handle.flush()
            os.fsync(handle.fileno())


# ---- pure decisions ----------------------------------------------------------------------


def for_names(entries: Iterable[LedgerEntry], names: str) -> list[LedgerEntry]:
    return [entry for entry in entries if entry.names == names]


def production_orders_in_window(
    entries: Sequence[LedgerEntry], names: str, now: datetime, window: timedelta
) -> list[LedgerEntry]:
    """Successful production orders for this exact set: what the CA's limit counts. ARI
    renewals (orders carrying `replaces`) are exempt from it."""
    since = now - window
    return [
        entry
        for entry in for_names(entries, names)
        if entry.kind == "order"
        and entry.production
        and entry.ok
        and not entry.ari
        and entry.ts > since
    ]


def known_serials(entries: Iterable[LedgerEntry]) -> set[str]:
    return {entry.serial.upper() for entry in entries if entry.serial and entry.kind == "order"}


def history_since(entries: Sequence[LedgerEntry]) -> datetime | None:
    """Since when the ledger knows what happened: its first line (or first certificate)."""
    return min((entry.ts for entry in entries), default=None)


def history_lost_at(entries: Sequence[LedgerEntry]) -> datetime | None:
    """When the ledger was started over certbot state it had no record of (history lost)."""
    return max((entry.ts for entry in entries if entry.history_lost), default=None)


def effective_max_orders(
    entries: Sequence[LedgerEntry], now: datetime, max_orders: int, window: timedelta
) -> int:
    """While the ledger's history is shorter than the window because it was lost, unknown
    orders may have been made: allow one order, not the full budget."""
    lost = history_lost_at(entries)
    return 1 if lost and now - lost < window else max_orders


def budget_allowed_at(
    entries: Sequence[LedgerEntry], names: str, now: datetime, max_orders: int, window: timedelta
) -> datetime | None:
    """None when an order is within budget, else the moment the oldest counted order expires
    (or the lost history is a full window old)."""
    limit = effective_max_orders(entries, now, max_orders, window)
    counted = sorted(entry.ts for entry in production_orders_in_window(entries, names, now, window))
    if len(counted) < limit:
        return None
    # After the (len - limit + 1) oldest orders leave the window, one slot is free again.
    free_again = counted[len(counted) - limit] + window
    lost = history_lost_at(entries)
    if limit < max_orders and lost:
        free_again = min(free_again, lost + window)
    return free_again


def budget_left(
    entries: Sequence[LedgerEntry], names: str, now: datetime, max_orders: int, window: timedelta
) -> int:
    limit = effective_max_orders(entries, now, max_orders, window)
    return max(0, limit - len(production_orders_in_window(entries, names, now, window)))


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


@dataclass(frozen=True)
class Limits:
    """What the settings allow: production orders per window, and the backoff after failures."""

    max_orders: int
    window: timedelta
    backoff_base: timedelta
    backoff_max: timedelta


def check_gates(
    entries: Sequence[LedgerEntry],
    names: str,
    now: datetime,
    limits: Limits,
    ari_renewal: bool = False,
) -> None:
    """Raise OrderRefused (saying until when) while a Retry-After, the backoff or the budget
    says no; a renewal carrying `replaces` (ari_renewal) does not count against the budget."""
    retry_after = retry_after_in_force(entries, names, now)
    if retry_after:
        raise OrderRefused.until_time("the CA asked to retry after", retry_after)
    backoff = backoff_until(entries, names, limits.backoff_base, limits.backoff_max)
    if backoff and backoff > now:
        failures = consecutive_failures(entries, names)
        raise OrderRefused.until_time(f"backing off after {failures} failure(s)", backoff)
    if ari_renewal:
        return
    allowed = budget_allowed_at(entries, names, now, limits.max_orders, limits.window)
    if allowed:
        limit = effective_max_orders(entries, now, limits.max_orders, limits.window)
        lost = (
            " (history lost: one order per window until it is known again)"
            if limit < limits.max_orders
            else ""
        )
        hours = limits.window / timedelta(hours=1)
        raise OrderRefused.until_time(
            f"budget spent: {limit} production orders for {names} in the last {hours:g}h{lost}",
            allowed,
        )


def last_attempts(entries: Sequence[LedgerEntry], names: str, count: int) -> list[LedgerEntry]:
    attempts = [entry for entry in for_names(entries, names) if entry.kind in ATTEMPT_KINDS]
    return attempts[-count:]


def utcnow() -> datetime:
    return datetime.now(UTC)
