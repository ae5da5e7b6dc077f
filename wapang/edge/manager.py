"""One decision pass of the certificate manager (`wapang certs ensure`; the loop repeats it).

Order of business, each step ruling out one failure of the original deployment:
1. nginx can always start: a placeholder certificate behind the `current` link.
2. A renewal conf that is not webroot is rewritten (the seed's standalone conf never renewed).
3. A valid certificate for exactly DOMAINS with more than a third of its lifetime left, from
   production: nothing to order. Make sure nginx serves it.
4. Otherwise Retry-After, backoff and the 3-per-168h budget are checked from the ledger, so a
   restart loop orders nothing new; `--force` skips them, loudly.
5. First production order for a name set: a staging dry run must pass first.
6. Order with the webroot, point nginx at it, `nginx -t` + reload, and poll until nginx serves
   the serial on disk.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from wapang.edge import ledger as L
from wapang.edge.certbot import (
    Certbot,
    CertbotResult,
    parse_failure,
    renewal_param,
    webroot_renewal_conf,
)
from wapang.edge.certificates import (
    CertInfo,
    fetch_served_cert,
    load_cert,
    needs_order,
    wait_until_served,
    write_placeholder,
)
from wapang.edge.errors import EdgeError, OrderRefused
from wapang.edge.nginx import request_reload
from wapang.edge.settings import EdgeSettings

log = logging.getLogger("wapang.edge")

Action = Literal["nothing", "activated", "issued", "refused", "failed"]
LOW_DAYS_LEFT = 14


@dataclass
class Outcome:
    action: Action
    message: str
    retry_at: datetime | None = None
    serial: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.action in ("nothing", "activated", "issued")


@dataclass
class Status:
    names: list[str]
    lineage: str
    cert: CertInfo | None
    staging: bool
    days_left: float | None
    last_attempt: L.LedgerEntry | None
    next_renewal: datetime | None
    budget_left: int
    blocked_until: datetime | None
    blocked_reason: str | None
    authenticator: str | None
    problems: list[str]

    @property
    def healthy(self) -> bool:
        return not self.problems


class Manager:
    def __init__(
        self,
        settings: EdgeSettings,
        certbot: Certbot | None = None,
        clock: Callable[[], datetime] = L.utcnow,
    ) -> None:
        self.settings = settings
        self._certbot = certbot
        self.clock = clock
        self.ledger = L.Ledger(settings.ledger_path)
        self.names_key = L.name_set_key(settings.domains)

    @property
    def certbot(self) -> Certbot:
        if self._certbot is None:  # resolved lazily: `status` must work without certbot
            self._certbot = Certbot(self.settings)
        return self._certbot

    # ---- the pass ------------------------------------------------------------------------

    def ensure(self, force: bool = False) -> Outcome:
        self.bootstrap()
        notes = self.repair_renewal_conf()
        entries = self.ledger.read().entries
        cert = self.current_cert()
        reason = self.order_reason(cert)
        if reason is None and force:
            reason = "forced renewal"
        if reason is None:
            assert cert is not None
            outcome = self.sync_nginx(cert)
        else:
            outcome = self._order_if_allowed(reason, entries, force)
        outcome.notes[:0] = notes
        return outcome

    def _order_if_allowed(self, reason: str, entries: list[L.LedgerEntry], force: bool) -> Outcome:
        if force:
            log.warning(
                "FORCED order for %s: budget, Retry-After and backoff are IGNORED (%s)",
                self.names_key,
                reason,
            )
        else:
            try:
                self.check_gates(entries)
            except OrderRefused as refused:
                return Outcome("refused", f"{reason}, but {refused}", retry_at=refused.until)
        return self.order(reason, entries, forced=force)

    def bootstrap(self) -> None:
        """Directories, and a placeholder behind the `current` link if nothing is there yet."""
        s = self.settings
        s.webroot.mkdir(parents=True, exist_ok=True)
        s.state_dir.mkdir(parents=True, exist_ok=True)
        if not (s.tls_dir / "fullchain.pem").exists():
            write_placeholder(s.placeholder_dir, s.domains)
            point_link(s.tls_dir, s.placeholder_dir)

    def current_cert(self) -> CertInfo | None:
        return load_cert(self.settings.live_dir / "cert.pem")

    def is_staging(self, cert: CertInfo) -> bool:
        """Issuer named like a staging CA, or the lineage was last issued by the staging URL."""
        if cert.is_staging(self.settings.acme_staging_issuer_pattern):
            return True
        return self._renewal_server() == self.settings.acme_staging_server

    def order_reason(self, cert: CertInfo | None) -> str | None:
        reason = needs_order(cert, set(self.settings.domains), self.clock())
        if reason is None and cert is not None and self.is_staging(cert):
            return "a staging certificate is installed but production is configured"
        return reason

    def check_gates(self, entries: list[L.LedgerEntry]) -> None:
        s, now, key = self.settings, self.clock(), self.names_key
        retry_after = L.retry_after_in_force(entries, key, now)
        if retry_after:
            raise OrderRefused.until_time("the CA asked to retry after", retry_after)
        backoff = L.backoff_until(
            entries,
            key,
            timedelta(seconds=s.backoff_base_seconds),
            timedelta(seconds=s.backoff_max_seconds),
        )
        if backoff and backoff > now:
            failures = L.consecutive_failures(entries, key)
            raise OrderRefused.until_time(f"backing off after {failures} failure(s)", backoff)
        window = timedelta(hours=s.budget_window_hours)
        allowed = L.budget_allowed_at(entries, key, now, s.budget_max_orders, window)
        if allowed:
            raise OrderRefused.until_time(
                f"budget spent: {s.budget_max_orders} production orders for {key} "
                f"in the last {s.budget_window_hours:g}h",
                allowed,
            )

    # ---- ordering ------------------------------------------------------------------------

    def order(self, reason: str, entries: list[L.LedgerEntry], forced: bool = False) -> Outcome:
        s = self.settings
        first_order = not L.ever_ordered_in_production(entries, self.names_key)
        if first_order:
            dry = self.certbot.certonly(s.acme_staging_server, dry_run=True, renew=False)
            self._record("dry_run", dry, production=False, reason=reason, forced=forced)
            if not dry.ok:
                return self._failed("staging dry run failed; no production order made", dry)
        result = self.certbot.certonly(s.acme_server, dry_run=False, renew=s.renewal_conf.exists())
        cert = self.current_cert() if result.ok else None
        serial = cert.serial_hex if cert else None
        self._record("order", result, production=True, reason=reason, forced=forced, serial=serial)
        if cert is None:
            return self._failed("production order failed", result)
        outcome = self.activate(cert)
        outcome.action = "issued" if outcome.ok else outcome.action
        outcome.message = f"issued serial {cert.serial_hex} ({reason}); {outcome.message}"
        if first_order:
            outcome.notes.append(self.prove_renewal())
        return outcome

    def _failed(self, message: str, result: CertbotResult) -> Outcome:
        failure = parse_failure(result.output + "\n" + result.log_tail, self.clock())
        entries = self.ledger.read().entries
        retry = L.backoff_until(
            entries,
            self.names_key,
            timedelta(seconds=self.settings.backoff_base_seconds),
            timedelta(seconds=self.settings.backoff_max_seconds),
        )
        if failure.retry_after and (retry is None or failure.retry_after > retry):
            retry = failure.retry_after
        return Outcome("failed", f"{message}: {failure.summary}", retry_at=retry)

    def _record(
        self,
        kind: L.Kind,
        result: CertbotResult,
        *,
        production: bool,
        reason: str = "",
        forced: bool = False,
        serial: str | None = None,
    ) -> None:
        now = self.clock()
        failure = None if result.ok else parse_failure(result.output + "\n" + result.log_tail, now)
        server = self.settings.acme_server if production else self.settings.acme_staging_server
        self.ledger.append(
            L.LedgerEntry(
                ts=now,
                kind=kind,
                names=self.names_key,
                server=server,
                production=production,
                ok=result.ok,
                forced=forced,
                reason=reason,
                serial=serial,
                error=failure.summary if failure else None,
                rate_limited=failure.rate_limited if failure else False,
                retry_after=failure.retry_after if failure else None,
            )
        )

    def prove_renewal(self) -> str:
        """`certbot renew --dry-run` against the configured server: the path renewals take."""
        result = self.certbot.renew_dry_run()
        self._record("renew_dry_run", result, production=True, reason="prove renewal")
        if result.ok:
            return "renewal dry run passed"
        return "renewal dry run FAILED: " + parse_failure(result.output, self.clock()).summary

    # ---- renewal conf --------------------------------------------------------------------

    def _renewal_server(self) -> str | None:
        conf = self.settings.renewal_conf
        return renewal_param(conf.read_text(), "server") if conf.exists() else None

    def repair_renewal_conf(self) -> list[str]:
        conf = self.settings.renewal_conf
        if not conf.exists():
            return []
        text = conf.read_text()
        authenticator = renewal_param(text, "authenticator")
        if authenticator == "webroot":
            return []
        fixed = webroot_renewal_conf(text, self.settings.webroot, self.settings.domains)
        temporary = conf.with_suffix(".conf.wapang-tmp")
        temporary.write_text(fixed)
        os.replace(temporary, conf)
        log.warning("renewal conf %s used %s; switched to webroot", conf, authenticator)
        self.ledger.append(
            L.LedgerEntry(
                ts=self.clock(),
                kind="fix",
                names=self.names_key,
                server=self._renewal_server() or "",
                production=True,
                ok=True,
                reason=f"authenticator {authenticator} -> webroot",
            )
        )
        return [f"renewal conf used authenticator {authenticator}; fixed", self.prove_renewal()]

    # ---- nginx ---------------------------------------------------------------------------

    def activate(self, cert: CertInfo) -> Outcome:
        """Point nginx at the live lineage, reload (nginx -t first) and check what it serves."""
        point_link(self.settings.tls_dir, self.settings.live_dir)
        try:
            request_reload(self.settings)
            wait_until_served(
                self.settings.verify_host,
                self.settings.effective_verify_port,
                self.settings.domains[0],
                cert.serial,
                self.settings.verify_timeout_seconds,
            )
        except EdgeError as exc:
            return Outcome("failed", f"nginx does not serve serial {cert.serial_hex}: {exc}")
        return Outcome(
            "activated", f"nginx serves serial {cert.serial_hex}", serial=cert.serial_hex
        )

    def sync_nginx(self, cert: CertInfo) -> Outcome:
        """Nothing to order; still repair a crash between an order and the reload."""
        s = self.settings
        linked = s.tls_dir.is_symlink() and s.tls_dir.resolve() == s.live_dir.resolve()
        served = self._served_serial()
        if linked and served == cert.serial:
            days = cert.days_left(self.clock())
            return Outcome(
                "nothing", f"certificate valid, {days:.0f} days left", serial=cert.serial_hex
            )
        if linked and served is None:
            return Outcome(
                "nothing",
                f"certificate valid; nginx not reachable at {s.verify_host}:"
                f"{s.effective_verify_port} to check the served serial",
                serial=cert.serial_hex,
            )
        return self.activate(cert)

    def _served_serial(self) -> int | None:
        s = self.settings
        try:
            return fetch_served_cert(
                s.verify_host, s.effective_verify_port, s.domains[0], timeout=3
            ).serial
        except OSError:
            return None

    # ---- report --------------------------------------------------------------------------

    def status(self) -> Status:
        s, now, key = self.settings, self.clock(), self.names_key
        entries = self.ledger.read().entries
        cert = self.current_cert()
        staging = bool(cert and self.is_staging(cert))
        days_left = cert.days_left(now) if cert else None
        problems: list[str] = []
        if days_left is None:
            problems.append("no certificate")
        elif days_left < LOW_DAYS_LEFT:
            problems.append(f"only {days_left:.1f} days left")
        recent = L.last_attempts(entries, key, 2)
        if len(recent) == 2 and not any(entry.ok for entry in recent):
            problems.append("the last two attempts failed")
        authenticator = (
            renewal_param(s.renewal_conf.read_text(), "authenticator")
            if s.renewal_conf.exists()
            else None
        )
        blocked_until, blocked_reason = None, None
        try:
            self.check_gates(entries)
        except OrderRefused as refused:
            blocked_until, blocked_reason = refused.until, str(refused)
        next_renewal = None
        if cert:
            next_renewal = now if self.order_reason(cert) else cert.renew_at
            if blocked_until and blocked_until > next_renewal:
                next_renewal = blocked_until
        window = timedelta(hours=s.budget_window_hours)
        last = L.last_attempts(entries, key, 1)
        return Status(
            names=s.domains,
            lineage=s.lineage,
            cert=cert,
            staging=staging,
            days_left=days_left,
            last_attempt=last[0] if last else None,
            next_renewal=next_renewal,
            budget_left=L.budget_left(entries, key, now, s.budget_max_orders, window),
            blocked_until=blocked_until,
            blocked_reason=blocked_reason,
            authenticator=authenticator,
            problems=problems,
        )


def point_link(link: Path, target: Path) -> None:
    """Atomically (re)point a symlink; relative, so it resolves in every container that
    mounts the certificate volume, wherever it is mounted."""
    link.parent.mkdir(parents=True, exist_ok=True)
    relative = os.path.relpath(target, link.parent)
    if link.is_symlink() and os.readlink(link) == relative:
        return
    temporary = link.with_name(link.name + ".wapang-tmp")
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    temporary.symlink_to(relative)
    os.replace(temporary, link)
