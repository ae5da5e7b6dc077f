"""`wapang certs status`: what is on disk, what nginx serves, when the next renewal is due and
what would refuse an order, read from the ledger and the lineage without ordering anything."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from wapang.edge.certificates import CertInfo, needs_order
from wapang.edge.context import Context
from wapang.edge.decision import is_staging, renewal_window
from wapang.edge.errors import OrderRefused
from wapang.edge.ledger import (
    LedgerEntry,
    budget_left,
    check_gates,
    history_lost_at,
    history_since,
    last_attempts,
)
from wapang.edge.lineage import lineage_family
from wapang.edge.nginx import served_serial
from wapang.edge.repairs import observed_orders, resolve_lineage

LOW_DAYS_LEFT = 14
LOW_FRACTION_LEFT = 1 / 6  # short-lived certificates: unhealthy when a sixth is left


@dataclass
class Status:
    names: list[str]
    lineage: str
    cert: CertInfo | None
    staging: bool
    days_left: float | None
    last_attempt: LedgerEntry | None
    next_renewal: datetime | None
    budget_left: int
    blocked_until: datetime | None
    blocked_reason: str | None
    authenticator: str | None
    problems: list[str]
    served_serial: str | None = None
    lineages: list[str] = field(default_factory=list)
    history_since: datetime | None = None
    history_note: str | None = None
    ledger_paths: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        """`wapang certs status --json`: times in ISO 8601, the certificate and the last
        attempt flattened to what an operator reads."""
        cert, last = self.cert, self.last_attempt
        return {
            "names": self.names,
            "lineage": self.lineage,
            "issuer": cert.issuer if cert else None,
            "serial": cert.serial_hex if cert else None,
            "not_after": _iso(cert.not_after if cert else None),
            "days_left": round(self.days_left, 2) if self.days_left is not None else None,
            "environment": None if cert is None else ("staging" if self.staging else "production"),
            "last_attempt": None
            if last is None
            else {
                "at": last.ts.isoformat(),
                "kind": last.kind,
                "ok": last.ok,
                "error": last.error,
                "problems": last.problems,
                "ari": last.ari,
            },
            "next_renewal": _iso(self.next_renewal),
            "budget_left": self.budget_left,
            "blocked_until": _iso(self.blocked_until),
            "blocked_reason": self.blocked_reason,
            "authenticator": self.authenticator,
            "healthy": self.healthy,
            "problems": self.problems,
            "served_serial": self.served_serial,
            "lineages": self.lineages,
            "history_since": _iso(self.history_since),
            "history_note": self.history_note,
            "ledger": self.ledger_paths,
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def read_status(context: Context) -> Status:
    settings, now, key = context.settings, context.clock(), context.names_key
    resolve_lineage(context, repair=False)
    entries = context.entries()
    entries = sorted(entries + observed_orders(context, entries), key=lambda e: e.ts)
    cert = context.current_cert()
    staging = bool(cert and is_staging(context, cert))
    problems = cert_problems(cert, now)
    served_hex = None
    if cert:
        served, error = served_serial(settings)
        served_hex = format(served, "X") if served is not None else None
        if served is None:
            problems.append(
                f"nginx is not reachable at {settings.verify_host}:"
                f"{settings.effective_verify_port} ({error}): the site is down"
            )
        elif served != cert.serial:
            problems.append(
                f"nginx serves serial {served_hex}, not {cert.serial_hex} from "
                f"{context.lineage.live_dir}: run `wapang certs ensure` to reload it"
            )
    recent = last_attempts(entries, key, 2)
    if len(recent) == 2 and not any(entry.ok for entry in recent):
        problems.append("the last two attempts failed")
    blocked_until, blocked_reason = None, None
    window = renewal_window(context, cert, online=False) if cert else None
    try:
        check_gates(entries, key, now, context.limits, ari_renewal=window is not None)
    except OrderRefused as refused:
        blocked_until, blocked_reason = refused.until, str(refused)
    next_renewal = None
    if cert:
        due = needs_order(cert, set(settings.domains), now) or staging
        next_renewal = now if due else (window.renew_at if window else cert.renew_at)
        if blocked_until and blocked_until > next_renewal:
            next_renewal = blocked_until
    lost = history_lost_at(entries)
    last = last_attempts(entries, key, 1)
    limits = context.limits
    family = lineage_family(settings.certbot_config_dir, settings.lineage)
    return Status(
        names=settings.domains,
        lineage=context.lineage.name,
        cert=cert,
        staging=staging,
        days_left=cert.days_left(now) if cert else None,
        last_attempt=last[0] if last else None,
        next_renewal=next_renewal,
        budget_left=budget_left(entries, key, now, limits.max_orders, limits.window),
        blocked_until=blocked_until,
        blocked_reason=blocked_reason,
        authenticator=context.lineage.renewal_param("authenticator"),
        problems=problems,
        served_serial=served_hex,
        lineages=[lineage.name for lineage in family],
        history_since=history_since(entries),
        history_note=None
        if lost is None
        else (
            f"history known since {lost:%Y-%m-%d %H:%M} UTC only (the ledger was lost; "
            "orders before that are counted only if their certificate is in archive/)"
        ),
        ledger_paths=[str(path) for path in context.ledger.paths],
    )


def cert_problems(cert: CertInfo | None, now: datetime) -> list[str]:
    """Why the certificate on disk makes the site unhealthy: none, expired or nearly so."""
    if cert is None:
        return ["no certificate"]
    if now >= cert.not_after:
        return [
            f"the certificate expired on {cert.not_after:%Y-%m-%d %H:%M} UTC: browsers "
            "reject the site; run `wapang certs ensure` and read its error"
        ]
    threshold = min(timedelta(days=LOW_DAYS_LEFT), cert.lifetime * LOW_FRACTION_LEFT)
    if cert.not_after - now < threshold:
        return [
            f"only {cert.days_left(now):.1f} days left (renewal should have happened "
            "by now: read `last attempt`)"
        ]
    return []
