"""One decision pass of the certificate manager (`wapang certs ensure`; the loop repeats it).

Before deciding anything, the pass repairs what it finds: the ledger's copies are merged and
completed from the certificates archive/ still holds, broken live/ links are relinked and a
`-000N` sibling certbot made is adopted, so no loss re-orders or resets the budget. Then:
1. nginx can always start: a placeholder certificate behind the `current` link (`bootstrap`).
2. A renewal conf that is not webroot is rewritten and the renewal path proved.
3. A valid certificate for exactly DOMAINS with more than a third of its lifetime left (or
   before the CA's renewal window, ARI), from production: nothing to order; nginx is made to
   serve it (`sync_nginx`).
4. Otherwise Retry-After, backoff and the budget are checked from the ledger (`check_gates`),
   so a restart loop orders nothing new; `--force` skips them, loudly.
5. Before every order (staging and production) the preflight proves DNS, the webroot and CAA
   for each name; a failure costs nothing at the CA.
6. The first production order for a name set follows a staging dry run that passed.
7. Inside the CA's renewal window the order carries `replaces` (exempt from the CA's limits);
   otherwise certbot orders with the webroot. Success is read from certbot's exit status and
   the lineage on disk, never from its output. Then nginx serves it (`nginx -t` + reload) and
   the pass waits until nginx serves the serial on disk.
Every attempt, refusal and repair is one ledger line (wapang/edge/recorder.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from wapang.edge import nginx
from wapang.edge.ari_cache import RenewalWindow, load_state, save_state
from wapang.edge.certbot import (
    Certbot,
    FailureInfo,
    describe_problems,
    switch_to_webroot,
)
from wapang.edge.certificates import RENEWAL_DUE, CertInfo, needs_order, write_placeholder
from wapang.edge.errors import EdgeError, OrderRefused
from wapang.edge.ledger import (
    Ledger,
    LedgerEntry,
    Limits,
    backoff_until,
    check_gates,
    ever_ordered_in_production,
    known_serials,
    name_set_key,
    utcnow,
)
from wapang.edge.lineage import Lineage, archived_certificates, choose, lineage_family, retire
from wapang.edge.preflight import check_directories, profile_problems, run_preflight
from wapang.edge.recorder import Recorder
from wapang.edge.settings import EdgeSettings
from wapang.edge.status import Status, read_status

log = logging.getLogger("wapang.edge")

Action = Literal["nothing", "activated", "issued", "refused", "failed"]


@dataclass
class Outcome:
    action: Action
    message: str
    retry_at: datetime | None = None
    serial: str | None = None
    notes: list[str] = field(default_factory=list)
    problems: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.action in ("nothing", "activated", "issued")


class Manager:
    def __init__(
        self,
        settings: EdgeSettings,
        certbot: Certbot | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self._certbot = certbot
        self.clock = clock
        self.ledger = Ledger(*settings.ledger_paths)
        self.names_key = name_set_key(settings.domains)
        self.lineage = Lineage(settings.lineage, settings.certbot_config_dir)
        self.recorder = Recorder(self.ledger, self.names_key, settings, clock)
        self.limits = Limits(
            max_orders=settings.budget_max_orders,
            window=timedelta(hours=settings.budget_window_hours),
            backoff_base=timedelta(seconds=settings.backoff_base_seconds),
            backoff_max=timedelta(seconds=settings.backoff_max_seconds),
        )

    @property
    def certbot(self) -> Certbot:
        if self._certbot is None:  # resolved lazily: `status` must work without certbot
            self._certbot = Certbot(self.settings)
        return self._certbot

    def status(self) -> Status:
        return read_status(self)

    # ---- the pass ------------------------------------------------------------------------

    def ensure(self, force: bool = False) -> Outcome:
        check_directories(self.settings)
        self.bootstrap()
        notes = self.reconcile_ledger()
        notes += self.resolve_lineage(repair=True)
        notes += self.repair_renewal_conf()
        entries = self.ledger.read().entries
        cert = self.current_cert()
        reason = self.order_reason(cert) or ("forced renewal" if force else None)
        if reason is None:
            assert cert is not None
            outcome = self.sync_nginx(cert)
        elif force:
            log.warning(
                "FORCED order for %s: budget, Retry-After and backoff are IGNORED (%s)",
                self.names_key,
                reason,
            )
            outcome = self.order(reason, entries, forced=True)
        else:
            try:
                check_gates(entries, self.names_key, self.clock(), self.limits, self.ari_exempt())
            except OrderRefused as refused:
                outcome = Outcome("refused", f"{reason}, but {refused}", retry_at=refused.until)
            else:
                outcome = self.order(reason, entries)
        outcome.notes[:0] = notes
        return outcome

    def bootstrap(self) -> None:
        """Directories, and a placeholder behind the `current` link if nothing is there yet."""
        settings = self.settings
        settings.webroot.mkdir(parents=True, exist_ok=True)
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        if not (settings.tls_dir / "fullchain.pem").exists():
            write_placeholder(settings.placeholder_dir, settings.domains)
            nginx.point_link(settings.tls_dir, settings.placeholder_dir)

    # ---- repairs: ledger, lineage, renewal conf -------------------------------------------

    def reconcile_ledger(self) -> list[str]:
        notes = []
        if not self.ledger.exists():
            lost = self._certbot_state_exists()
            reason = "ledger started over existing certbot state: earlier orders unknown"
            self.recorder.record(
                "start", history_lost=lost, reason=reason if lost else "new ledger"
            )
            if lost:
                notes.append(
                    "no ledger found but certbot state exists: history rebuilt from "
                    "archive/, one order allowed until a full budget window is known"
                )
        healed = self.ledger.heal()
        if healed:
            notes.append("ledger copies merged into " + ", ".join(str(p) for p in healed))
        for entry in self.observed_orders(self.ledger.read().entries):
            self.ledger.append(entry)
            notes.append(f"counted certificate {entry.serial} found in archive/ ({entry.reason})")
        return notes

    def _certbot_state_exists(self) -> bool:
        config = self.settings.certbot_config_dir
        return any(
            (config / part).is_dir() and any((config / part).iterdir())
            for part in ("archive", "renewal", "accounts")
        )

    def observed_orders(self, entries: list[LedgerEntry]) -> list[LedgerEntry]:
        """Certificates in archive/ for this name set that the ledger does not know: orders
        made outside the manager (a plain `certbot renew`, an older deployment) or forgotten."""
        known = known_serials(entries)
        found = []
        for path, cert in archived_certificates(self.settings.certbot_config_dir):
            if name_set_key(cert.names) != self.names_key or cert.serial_hex in known:
                continue
            known.add(cert.serial_hex)
            staging = cert.is_staging(self.settings.acme_staging_issuer_pattern)
            found.append(
                self.recorder.entry(
                    "order",
                    ts=cert.not_before,
                    server="staging" if staging else "production",
                    production=not staging,
                    serial=cert.serial_hex,
                    observed=True,
                    reason=f"{path.parent.name}/{path.name}, "
                    f"issued {cert.not_before:%Y-%m-%d %H:%M}",
                )
            )
        return found

    def resolve_lineage(self, repair: bool) -> list[str]:
        """Pick the lineage to serve among `<name>` and certbot's `<name>-000N`; with repair,
        relink broken live/ dirs first and retire superseded siblings."""
        family = lineage_family(self.settings.certbot_config_dir, self.settings.lineage)
        fixes = [note for lineage in family if repair and (note := lineage.repair_links())]
        chosen = choose(family, frozenset(self.settings.domains), self._lineage_is_staging)
        if chosen is not None:
            self.lineage = chosen
            fixes += [
                retire(lineage, chosen)
                for lineage in family
                if repair and lineage != chosen and lineage.renewal_conf.exists()
            ]
        for note in fixes:
            self.recorder.record("fix", reason=note)
        return fixes

    def repair_renewal_conf(self) -> list[str]:
        conf = self.lineage.renewal_conf
        was = switch_to_webroot(conf, self.settings.webroot, self.settings.domains)
        if was is None:
            return []
        log.warning("renewal conf %s used %s; switched to webroot", conf, was)
        self.recorder.record("fix", reason=f"authenticator {was} -> webroot")
        return [f"renewal conf used authenticator {was}; fixed", self.prove_renewal()]

    def prove_renewal(self) -> str:
        """`certbot renew --dry-run` against the STAGING directory: the path renewals take,
        without a production order."""
        result = self.certbot.renew_dry_run(self.lineage.name)
        failure = self.recorder.record(
            "renew_dry_run", result, production=False, reason="prove renewal"
        )
        return "renewal dry run FAILED: " + failure.summary if failure else "renewal dry run passed"

    # ---- the certificate on disk and the CA's renewal window (ARI) -------------------------

    def current_cert(self) -> CertInfo | None:
        return self.lineage.cert()

    def _lineage_is_staging(self, lineage: Lineage, cert: CertInfo) -> bool:
        if cert.is_staging(self.settings.acme_staging_issuer_pattern):
            return True
        return lineage.renewal_param("server") == self.settings.acme_staging_server

    def is_staging(self, cert: CertInfo) -> bool:
        """Issuer named like a staging CA, or the lineage was last issued by the staging URL."""
        return self._lineage_is_staging(self.lineage, cert)

    def order_reason(self, cert: CertInfo | None) -> str | None:
        reason = needs_order(cert, set(self.settings.domains), self.clock())
        if cert is None or reason not in (None, RENEWAL_DUE):
            return reason
        if reason is None and self.is_staging(cert):
            return "a staging certificate is installed but production is configured"
        window = self.renewal_window(cert)
        before_window = window is not None and self.clock() < window.renew_at
        if reason == RENEWAL_DUE:
            return None if before_window else reason  # the CA's window governs when it has one
        return (
            "the CA's renewal info (ARI) says renew now" if window and not before_window else None
        )

    def renewal_window(self, cert: CertInfo, online: bool = True) -> RenewalWindow | None:
        """The CA's renewal time for the production certificate (cached until the CA's
        Retry-After); None when it has no renewal info or is unreachable."""
        if self.is_staging(cert):
            return None
        state = self.settings.state_dir / "renewal-info.json"
        cached = load_state(state, cert.serial_hex)
        if cached and (not online or self.clock() < cached.check_again):
            return cached
        if not online:
            return None
        from wapang.edge import ari  # acme: installed with the edge group only

        try:
            pem = (self.lineage.live_dir / "cert.pem").read_bytes()
            window = ari.renewal_window(self.settings, self.settings.acme_server, pem)
        except Exception as exc:  # the CA's trouble must not stop the pass
            log.info("renewal info unavailable: %s", exc)
            return cached
        if window:
            save_state(state, cert.serial_hex, window)
        return window

    def _cached_window(self) -> RenewalWindow | None:
        """The CA's window when a production certificate for DOMAINS exists and the CA offers
        renewal info: then the renewal can carry `replaces`."""
        cert = self.current_cert()
        if cert is None or cert.names != frozenset(self.settings.domains) or self.is_staging(cert):
            return None
        return self.renewal_window(cert, online=False)

    def ari_exempt(self) -> bool:
        """Inside the CA's window an order with `replaces` is exempt from the CA's limits (a
        forced one before the window carries `replaces` too, but counts)."""
        window = self._cached_window()
        return bool(window and self.clock() >= window.renew_at)

    # ---- ordering ------------------------------------------------------------------------

    def order(self, reason: str, entries: list[LedgerEntry], forced: bool = False) -> Outcome:
        settings, lineage = self.settings, self.lineage
        first_order = not ever_ordered_in_production(entries, self.names_key)
        if first_order:
            refused = self.preflight("staging", reason, forced)
            if refused:
                return refused
            dry = self.certbot.certonly(
                settings.acme_staging_server, lineage.name, dry_run=True, renew=False
            )
            failure = self.recorder.record(
                "dry_run", dry, production=False, reason=reason, forced=forced
            )
            if failure:
                return self._failed("staging dry run failed; no production order made", failure)
        refused = self.preflight("production", reason, forced)
        if refused:
            return refused
        if self._cached_window():
            renewed = self._order_with_replaces(reason, forced)
            if renewed:
                return renewed
        before = self._serials_on_disk()
        renew = lineage.renewal_conf.exists()
        result = self.certbot.certonly(
            settings.acme_server, lineage.name, dry_run=False, renew=renew
        )
        cert = self._new_certificate(before)
        serial = cert.serial_hex if cert else None
        failure = self.recorder.record(
            "order", result, ok=cert is not None, reason=reason, forced=forced, serial=serial
        )
        if cert is None:
            assert failure is not None
            why = (
                "production order failed"
                if not result.ok
                else "certbot exited 0 but saved no new certificate for DOMAINS"
            )
            return self._failed(why, failure)
        return self._issued(cert, reason, prove=first_order)

    def preflight(self, stage: str, reason: str, forced: bool) -> Outcome | None:
        """None when every name passes; else a refusal recorded in the ledger (no order)."""
        if not self.settings.preflight:
            return None
        problems = run_preflight(self.settings).problems + profile_problems(self.settings)
        if not problems:
            return None
        summary = describe_problems(problems)
        self.recorder.record(
            "preflight",
            ok=False,
            server=stage,
            production=stage == "production",
            reason=reason,
            forced=forced,
            error=summary,
            problems=problems,
        )
        return Outcome(
            "failed",
            f"preflight refused the {stage} order (nothing was sent to the CA): {summary}",
            retry_at=self._backoff(),
            problems=problems,
        )

    def _order_with_replaces(self, reason: str, forced: bool) -> Outcome | None:
        """An ARI renewal; None (fall back to a plain order) when the CA says alreadyReplaced."""
        from wapang.edge import ari  # acme: installed with the edge group only

        replaces = ari.cert_id((self.lineage.live_dir / "cert.pem").read_bytes())
        exempt = self.ari_exempt()
        try:
            renewed = ari.order_replacing(self.settings, self.settings.acme_server, self.lineage)
        except Exception as exc:  # every ACME/network failure is recorded
            problem = ari.problem_of(exc)
            summary = describe_problems([problem])
            self.recorder.record(
                "order",
                ok=False,
                reason=reason,
                forced=forced,
                error=summary,
                problems=[problem],
                ari=exempt,
                replaces=replaces,
            )
            if ari.is_already_replaced(exc):
                log.warning(
                    "the CA says %s was already replaced; ordering without replaces", replaces
                )
                return None
            return Outcome(
                "failed",
                f"renewal with replaces failed: {summary}",
                retry_at=self._backoff(),
                problems=[problem],
            )
        cert = self.current_cert()
        assert cert is not None
        self.recorder.record(
            "order",
            reason=reason,
            forced=forced,
            serial=cert.serial_hex,
            ari=exempt,
            replaces=replaces,
        )
        kind = (
            "ARI renewal, exempt from rate limits" if exempt else "replaces sent, before the window"
        )
        outcome = self._issued(cert, f"{reason}; {kind}", prove=False)
        outcome.notes.append(
            f"order carried replaces={replaces}; archive version {renewed.version}"
        )
        return outcome

    def _serials_on_disk(self) -> set[int]:
        return {cert.serial for _, cert in archived_certificates(self.settings.certbot_config_dir)}

    def _new_certificate(self, before: set[int]) -> CertInfo | None:
        """The certificate certbot saved in this run, wherever it put it (the lineage, or a
        `-000N` sibling it made): read from disk, never from its output."""
        self.resolve_lineage(repair=True)
        cert = self.current_cert()
        if cert and cert.serial not in before and cert.names == frozenset(self.settings.domains):
            return cert
        return None

    def _issued(self, cert: CertInfo, reason: str, prove: bool) -> Outcome:
        outcome = self.activate(cert)
        outcome.action = "issued" if outcome.ok else outcome.action
        outcome.message = f"issued serial {cert.serial_hex} ({reason}); {outcome.message}"
        if prove:
            outcome.notes.append(self.prove_renewal())
        return outcome

    def _failed(self, message: str, failure: FailureInfo) -> Outcome:
        retry = self._backoff()
        if failure.retry_after and (retry is None or failure.retry_after > retry):
            retry = failure.retry_after
        return Outcome(
            "failed", f"{message}: {failure.summary}", retry_at=retry, problems=failure.problems
        )

    def _backoff(self) -> datetime | None:
        limits = self.limits
        entries = self.ledger.read().entries
        return backoff_until(entries, self.names_key, limits.backoff_base, limits.backoff_max)

    # ---- nginx ---------------------------------------------------------------------------

    def sync_nginx(self, cert: CertInfo) -> Outcome:
        """Nothing to order; still repair a crash between an order and the reload."""
        settings = self.settings
        linked = nginx.links_to(settings.tls_dir, self.lineage.live_dir)
        served, _ = nginx.served_serial(settings)
        if linked and served == cert.serial:
            days = cert.days_left(self.clock())
            message = f"certificate valid, {days:.0f} days left"
            return Outcome("nothing", message, serial=cert.serial_hex)
        if linked and served is None:
            message = (
                f"certificate valid; nginx not reachable at {settings.verify_host}:"
                f"{settings.effective_verify_port} to check the served serial"
            )
            return Outcome("nothing", message, serial=cert.serial_hex)
        return self.activate(cert)

    def activate(self, cert: CertInfo) -> Outcome:
        """Point nginx at the live lineage, reload (nginx -t first) and check what it serves."""
        try:
            nginx.serve(self.settings, self.lineage.live_dir, cert.serial)
        except EdgeError as exc:
            return Outcome("failed", f"nginx does not serve serial {cert.serial_hex}: {exc}")
        message = f"nginx serves serial {cert.serial_hex}"
        return Outcome("activated", message, serial=cert.serial_hex)
