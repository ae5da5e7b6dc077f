"""One decision pass of the certificate manager (`wapang certs ensure`; the loop repeats it).

Order of business, each step ruling out one failure of the original deployment:
1. nginx can always start: a placeholder certificate behind the `current` link.
2. A renewal conf that is not webroot is rewritten (the seed's standalone conf never renewed).
3. A valid certificate for exactly DOMAINS with more than a third of its lifetime left, from
   production: nothing to order. Make sure nginx serves it.
4. Otherwise Retry-After, backoff and the 3-per-168h budget are checked from the ledger, so a
   restart loop orders nothing new; `--force` skips them, loudly.
5. Before every order (staging and production) the preflight proves DNS, the webroot and CAA
   for each name; a failure costs nothing at the CA.
6. First production order for a name set: a staging dry run must pass first.
7. A renewal the CA's renewal info (ARI) says is due carries `replaces` (exempt from the CA's
   limits); otherwise certbot orders with the webroot. Success is read from certbot's exit
   status and the lineage on disk, never from its output. Then point nginx at it, `nginx -t`
   + reload, and poll until nginx serves the serial on disk.

Before deciding anything, broken lineage state is repaired or adopted (missing or dangling
live/ links, a `-000N` sibling certbot made) and the ledger is merged from its copies and
completed from the certificates archive/ still holds, so no loss re-orders or resets the budget.
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
    describe_problems,
    parse_failure,
    renewal_param,
    webroot_renewal_conf,
)
from wapang.edge.certificates import (
    RENEWAL_DUE,
    CertInfo,
    fetch_served_cert,
    needs_order,
    wait_until_served,
    write_placeholder,
)
from wapang.edge.errors import EdgeConfigError, EdgeError, OrderRefused
from wapang.edge.lineage import Lineage, archived_certificates, choose, lineage_family, retire
from wapang.edge.nginx import request_reload
from wapang.edge.preflight import CHALLENGE_PATH, run_preflight
from wapang.edge.ari_cache import RenewalWindow, load_state, save_state
from wapang.edge.settings import EdgeSettings

log = logging.getLogger("wapang.edge")

Action = Literal["nothing", "activated", "issued", "refused", "failed"]
LOW_DAYS_LEFT = 14
LOW_FRACTION_LEFT = 1 / 6  # short-lived certificates: unhealthy when a sixth is left


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
    served_serial: str | None = None
    lineages: list[str] = field(default_factory=list)
    history_since: datetime | None = None
    history_note: str | None = None
    ledger_paths: list[str] = field(default_factory=list)

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
        self.ledger = L.Ledger(*settings.ledger_paths)
        self.names_key = L.name_set_key(settings.domains)
        self.lineage = Lineage(settings.lineage, settings.certbot_config_dir)

    @property
    def certbot(self) -> Certbot:
        if self._certbot is None:  # resolved lazily: `status` must work without certbot
            self._certbot = Certbot(self.settings)
        return self._certbot

    # ---- the pass ------------------------------------------------------------------------

    def ensure(self, force: bool = False) -> Outcome:
        self.check_environment()
        self.bootstrap()
        notes = self.reconcile_ledger()
        notes += self.resolve_lineage(repair=True)
        notes += self.repair_renewal_conf()
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

    def check_environment(self) -> None:
        """Everything an order needs from this host, checked before any ACME request and
        reported together (a read-only volume, a webroot under a file…)."""
        s = self.settings
        problems = []
        targets = [
            ("WEBROOT", s.webroot / CHALLENGE_PATH, "the webroot nginx serves for HTTP-01"),
            ("CERTBOT_CONFIG_DIR", s.certbot_config_dir, "certbot's certificates and accounts"),
            ("CERTBOT_WORK_DIR", s.certbot_work_dir, "certbot's work directory"),
            ("CERTBOT_LOGS_DIR", s.certbot_logs_dir, "certbot's logs"),
            ("EDGE_STATE_DIR", s.state_dir, "ledger mirror, placeholder and nginx's link"),
            ("LEDGER_DIR", s.ledger_dir, "the ledger's main copy (a host directory)"),
        ]
        for name, directory, role in targets:
            problem = _writable_problem(directory)
            if problem:
                problems.append(
                    f"{name}: {directory} is not usable ({problem}); it holds {role}: "
                    f"make it a writable directory"
                )
        if problems:
            raise EdgeConfigError(problems)

    def _order_if_allowed(self, reason: str, entries: list[L.LedgerEntry], force: bool) -> Outcome:
        if force:
            log.warning(
                "FORCED order for %s: budget, Retry-After and backoff are IGNORED (%s)",
                self.names_key,
                reason,
            )
        else:
            try:
                self.check_gates(entries, ari_renewal=self._ari_due_renewal())
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

    # ---- ledger: merged copies, history rebuilt from archive/ -----------------------------

    def reconcile_ledger(self) -> list[str]:
        notes = []
        if not self.ledger.exists():
            lost = self._certbot_state_exists()
            self.ledger.append(
                L.LedgerEntry(
                    ts=self.clock(), kind="start", names=self.names_key, server="",
                    production=True, ok=True, history_lost=lost,
                    reason="ledger started over existing certbot state: earlier orders unknown"
                    if lost else "new ledger",
                )
            )  # fmt: skip
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

    def observed_orders(self, entries: list[L.LedgerEntry]) -> list[L.LedgerEntry]:
        """Certificates in archive/ for this name set that the ledger does not know: orders
        made outside the manager (a plain `certbot renew`, an older deployment) or forgotten."""
        known = L.known_serials(entries)
        found = []
        for path, cert in archived_certificates(self.settings.certbot_config_dir):
            if L.name_set_key(cert.names) != self.names_key or cert.serial_hex in known:
                continue
            known.add(cert.serial_hex)
            staging = cert.is_staging(self.settings.acme_staging_issuer_pattern)
            found.append(L.LedgerEntry(
                ts=cert.not_before, kind="order", names=self.names_key,
                server="staging" if staging else "production", production=not staging,
                ok=True, serial=cert.serial_hex, observed=True,
                reason=f"{path.parent.name}/{path.name}, issued {cert.not_before:%Y-%m-%d %H:%M}",
            ))  # fmt: skip
        return found

    # ---- lineage -------------------------------------------------------------------------

    def resolve_lineage(self, repair: bool) -> list[str]:
        """Pick the lineage to serve among `<name>` and certbot's `<name>-000N`; with repair,
        relink broken live/ dirs first and retire superseded siblings."""
        family = lineage_family(self.settings.certbot_config_dir, self.settings.lineage)
        notes = []
        if repair:
            for lineage in family:
                note = lineage.repair_links()
                if note:
                    notes.append(note)
                    self._record_fix(note)
        chosen = choose(family, frozenset(self.settings.domains), self._lineage_is_staging)
        if chosen is None:
            return notes
        self.lineage = chosen
        if repair:
            for lineage in family:
                if lineage != chosen and lineage.renewal_conf.exists():
                    note = retire(lineage, chosen)
                    notes.append(note)
                    self._record_fix(note)
        return notes

    def _record_fix(self, note: str) -> None:
        self.ledger.append(L.LedgerEntry(
            ts=self.clock(), kind="fix", names=self.names_key, server="", production=True,
            ok=True, reason=note,
        ))  # fmt: skip

    def _lineage_is_staging(self, lineage: Lineage, cert: CertInfo) -> bool:
        if cert.is_staging(self.settings.acme_staging_issuer_pattern):
            return True
        return self._renewal_server(lineage) == self.settings.acme_staging_server

    def current_cert(self) -> CertInfo | None:
        return self.lineage.cert()

    def is_staging(self, cert: CertInfo) -> bool:
        """Issuer named like a staging CA, or the lineage was last issued by the staging URL."""
        return self._lineage_is_staging(self.lineage, cert)

    def order_reason(self, cert: CertInfo | None) -> str | None:
        reason = needs_order(cert, set(self.settings.domains), self.clock())
        if reason is None and cert is not None and self.is_staging(cert):
            return "a staging certificate is installed but production is configured"
        if reason is None and cert is not None:
            window = self.renewal_window(cert)
            if window and self.clock() >= window.renew_at:
                return "the CA's renewal info (ARI) says renew now"
        if reason == RENEWAL_DUE and self._ari_window_later(cert):
            return None  # the CA's window governs when it has one
        return reason

    def _ari_window_later(self, cert: CertInfo | None) -> bool:
        window = self.renewal_window(cert) if cert else None
        return bool(window and self.clock() < window.renew_at)

    # ---- ARI -----------------------------------------------------------------------------

    @property
    def _ari_state(self) -> Path:
        return self.settings.state_dir / "renewal-info.json"

    def renewal_window(self, cert: CertInfo, online: bool = True) -> RenewalWindow | None:
        """The CA's renewal time for the production certificate (cached until the CA's
        Retry-After); None when it has no renewal info or is unreachable."""
        if self.is_staging(cert):
            return None
        cached = load_state(self._ari_state, cert.serial_hex)
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
            save_state(self._ari_state, cert.serial_hex, window)
        return window

    def _ari_window(self) -> RenewalWindow | None:
        """The CA's renewal window when a production certificate for DOMAINS exists and the
        CA offers renewal info: then the renewal can carry `replaces`."""
        cert = self.current_cert()
        if cert is None or cert.names != frozenset(self.settings.domains):
            return None
        if self.is_staging(cert):
            return None
        return load_state(self._ari_state, cert.serial_hex)

    def _ari_due_renewal(self) -> bool:
        """Inside the CA's window an order with `replaces` is exempt from the CA's limits (a
        forced one before the window carries `replaces` too, but counts)."""
        window = self._ari_window()
        return bool(window and self.clock() >= window.renew_at)

    def check_gates(self, entries: list[L.LedgerEntry], ari_renewal: bool = False) -> None:
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
        if ari_renewal:
            return  # a renewal carrying `replaces` does not count against the limit
        window = timedelta(hours=s.budget_window_hours)
        allowed = L.budget_allowed_at(entries, key, now, s.budget_max_orders, window)
        if allowed:
            limit = L.effective_max_orders(entries, now, s.budget_max_orders, window)
            lost = (
                " (history lost: one order per window until it is known again)"
                if (limit < s.budget_max_orders)
                else ""
            )
            raise OrderRefused.until_time(
                f"budget spent: {limit} production orders for {key} "
                f"in the last {s.budget_window_hours:g}h{lost}",
                allowed,
            )

    # ---- ordering ------------------------------------------------------------------------

    def preflight(self, stage: str, reason: str, forced: bool) -> Outcome | None:
        """None when every name passes; else a refusal recorded in the ledger (no order)."""
        if not self.settings.preflight:
            return None
        report = run_preflight(self.settings)
        problems = report.problems + self._profile_problems()
        if not problems:
            return None
        summary = describe_problems(problems)
        self.ledger.append(L.LedgerEntry(
            ts=self.clock(), kind="preflight", names=self.names_key, server=stage,
            production=stage == "production", ok=False, reason=reason, forced=forced,
            error=summary, problems=problems,
        ))  # fmt: skip
        return Outcome(
            "failed",
            f"preflight refused the {stage} order (nothing was sent to the CA): {summary}",
            retry_at=self._backoff(),
            problems=problems,
        )

    def _profile_problems(self) -> list[dict[str, str]]:
        from wapang.edge import ari  # acme: installed with the edge group only

        profile = self.settings.cert_profile
        if not profile:
            return []
        problems = []
        for label, server in (
            ("ACME_SERVER", self.settings.acme_server),
            ("ACME_STAGING_SERVER", self.settings.acme_staging_server),
        ):
            try:
                offered = ari.offered_profiles(ari.directory(self.settings, server))
            except Exception as exc:  # reported, not raised
                problems.append({"name": "", "type": "ca", "detail": f"{label}: {exc}"})
                continue
            if profile not in offered:
                problems.append(
                    {
                        "name": "",
                        "type": "profile",
                        "detail": f"{label} does not offer CERT_PROFILE={profile} (it "
                        f"offers {', '.join(sorted(offered)) or 'no profiles'}): unset "
                        "CERT_PROFILE or pick one it offers",
                    }
                )
        return problems

    def order(self, reason: str, entries: list[L.LedgerEntry], forced: bool = False) -> Outcome:
        s = self.settings
        first_order = not L.ever_ordered_in_production(entries, self.names_key)
        if first_order:
            refused = self.preflight("staging", reason, forced)
            if refused:
                return refused
            dry = self.certbot.certonly(
                s.acme_staging_server, self.lineage.name, dry_run=True, renew=False
            )
            self._record("dry_run", dry, production=False, reason=reason, forced=forced)
            if not dry.ok:
                return self._failed("staging dry run failed; no production order made", dry)
        refused = self.preflight("production", reason, forced)
        if refused:
            return refused
        if self._ari_window():
            renewed = self._order_with_replaces(reason, forced)
            if renewed:
                return renewed
        before = self._serials_on_disk()
        result = self.certbot.certonly(
            s.acme_server,
            self.lineage.name,
            dry_run=False,
            renew=self.lineage.renewal_conf.exists(),
        )
        cert = self._new_certificate(before)
        serial = cert.serial_hex if cert else None
        self._record("order", result, production=True, reason=reason, forced=forced,
                     serial=serial, ok=cert is not None)  # fmt: skip
        if cert is None:
            why = (
                "production order failed"
                if not result.ok
                else ("certbot exited 0 but saved no new certificate for DOMAINS")
            )
            return self._failed(why, result)
        return self._issued(cert, reason, prove=first_order)

    def _issued(self, cert: CertInfo, reason: str, prove: bool) -> Outcome:
        outcome = self.activate(cert)
        outcome.action = "issued" if outcome.ok else outcome.action
        outcome.message = f"issued serial {cert.serial_hex} ({reason}); {outcome.message}"
        if prove:
            outcome.notes.append(self.prove_renewal())
        return outcome

    def _order_with_replaces(self, reason: str, forced: bool) -> Outcome | None:
        """An ARI renewal; None (fall back to a plain order) when the CA says alreadyReplaced."""
        from wapang.edge import ari  # acme: installed with the edge group only

        pem = (self.lineage.live_dir / "cert.pem").read_bytes()
        replaces = ari.cert_id(pem)
        exempt = self._ari_due_renewal()
        try:
            renewed = ari.order_replacing(self.settings, self.settings.acme_server, self.lineage)
        except Exception as exc:  # every ACME/network failure is recorded
            problem = ari.problem_of(exc)
            self._record_entry("order", ok=False, production=True, reason=reason, forced=forced,
                               error=describe_problems([problem]), problems=[problem],
                               ari=exempt, replaces=replaces)  # fmt: skip
            if ari.is_already_replaced(exc):
                log.warning(
                    "the CA says %s was already replaced; ordering without replaces", replaces
                )
                return None
            return Outcome(
                "failed",
                f"renewal with replaces failed: {describe_problems([problem])}",
                retry_at=self._backoff(),
                problems=[problem],
            )
        cert = self.current_cert()
        assert cert is not None
        self._record_entry("order", ok=True, production=True, reason=reason, forced=forced,
                           serial=cert.serial_hex, ari=exempt, replaces=replaces)  # fmt: skip
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
        if (
            cert is not None
            and cert.serial not in before
            and cert.names == frozenset(self.settings.domains)
        ):
            return cert
        return None

    def _backoff(self) -> datetime | None:
        return L.backoff_until(
            self.ledger.read().entries,
            self.names_key,
            timedelta(seconds=self.settings.backoff_base_seconds),
            timedelta(seconds=self.settings.backoff_max_seconds),
        )

    def _failed(self, message: str, result: CertbotResult) -> Outcome:
        failure = parse_failure(result.output + "\n" + result.log_tail, self.clock())
        retry = self._backoff()
        if failure.retry_after and (retry is None or failure.retry_after > retry):
            retry = failure.retry_after
        return Outcome(
            "failed", f"{message}: {failure.summary}", retry_at=retry, problems=failure.problems
        )

    def _record(
        self,
        kind: L.Kind,
        result: CertbotResult,
        *,
        production: bool,
        reason: str = "",
        forced: bool = False,
        serial: str | None = None,
        ok: bool | None = None,
    ) -> None:
        succeeded = result.ok if ok is None else ok
        failure = (
            None
            if succeeded
            else parse_failure(result.output + "\n" + result.log_tail, self.clock())
        )
        self._record_entry(
            kind, ok=succeeded, production=production, reason=reason, forced=forced,
            serial=serial,
            error=failure.summary if failure else None,
            rate_limited=failure.rate_limited if failure else False,
            retry_after=failure.retry_after if failure else None,
            problems=failure.problems if failure else [],
        )  # fmt: skip

    def _record_entry(self, kind: L.Kind, *, ok: bool, production: bool, **fields: object) -> None:
        server = self.settings.acme_server if production else self.settings.acme_staging_server
        self.ledger.append(L.LedgerEntry(
            ts=self.clock(), kind=kind, names=self.names_key, server=server,
            production=production, ok=ok, **fields,  # type: ignore[arg-type]
        ))  # fmt: skip

    def prove_renewal(self) -> str:
        """`certbot renew --dry-run` against the STAGING directory: the path renewals take,
        without a production order."""
        result = self.certbot.renew_dry_run(self.lineage.name)
        self._record("renew_dry_run", result, production=False, reason="prove renewal")
        if result.ok:
            return "renewal dry run passed"
        failure = parse_failure(result.output + "\n" + result.log_tail, self.clock())
        return "renewal dry run FAILED: " + failure.summary

    # ---- renewal conf --------------------------------------------------------------------

    def _renewal_server(self, lineage: Lineage | None = None) -> str | None:
        conf = (lineage or self.lineage).renewal_conf
        return renewal_param(conf.read_text(), "server") if conf.exists() else None

    def repair_renewal_conf(self) -> list[str]:
        conf = self.lineage.renewal_conf
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
        self._record_fix(f"authenticator {authenticator} -> webroot")
        return [f"renewal conf used authenticator {authenticator}; fixed", self.prove_renewal()]

    # ---- nginx ---------------------------------------------------------------------------

    def activate(self, cert: CertInfo) -> Outcome:
        """Point nginx at the live lineage, reload (nginx -t first) and check what it serves."""
        point_link(self.settings.tls_dir, self.lineage.live_dir)
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
        live = self.lineage.live_dir
        linked = s.tls_dir.is_symlink() and s.tls_dir.resolve() == live.resolve()
        served, _ = self._served_serial()
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

    def _served_serial(self) -> tuple[int | None, str]:
        s = self.settings
        try:
            served = fetch_served_cert(
                s.verify_host, s.effective_verify_port, s.domains[0], timeout=3
            )
        except OSError as exc:
            return None, str(exc) or type(exc).__name__
        return served.serial, ""

    # ---- report --------------------------------------------------------------------------

    def status(self) -> Status:
        s, now, key = self.settings, self.clock(), self.names_key
        self.resolve_lineage(repair=False)
        entries = self.ledger.read().entries
        entries = sorted(entries + self.observed_orders(entries), key=lambda e: e.ts)
        cert = self.current_cert()
        staging = bool(cert and self.is_staging(cert))
        days_left = cert.days_left(now) if cert else None
        problems = self._cert_problems(cert)
        served_serial = None
        if cert:
            served, error = self._served_serial()
            served_serial = format(served, "X") if served is not None else None
            if served is None:
                problems.append(
                    f"nginx is not reachable at {s.verify_host}:"
                    f"{s.effective_verify_port} ({error}): the site is down"
                )
            elif served != cert.serial:
                problems.append(
                    f"nginx serves serial {served_serial}, not {cert.serial_hex} from "
                    f"{self.lineage.live_dir}: run `wapang certs ensure` to reload it"
                )
        recent = L.last_attempts(entries, key, 2)
        if len(recent) == 2 and not any(entry.ok for entry in recent):
            problems.append("the last two attempts failed")
        conf = self.lineage.renewal_conf
        authenticator = renewal_param(conf.read_text(), "authenticator") if conf.exists() else None
        blocked_until, blocked_reason = None, None
        window = self.renewal_window(cert, online=False) if cert else None
        try:
            self.check_gates(entries, ari_renewal=window is not None)
        except OrderRefused as refused:
            blocked_until, blocked_reason = refused.until, str(refused)
        next_renewal = None
        if cert:
            due = needs_order(cert, set(s.domains), now) or staging
            next_renewal = now if due else (window.renew_at if window else cert.renew_at)
            if blocked_until and blocked_until > next_renewal:
                next_renewal = blocked_until
        budget_window = timedelta(hours=s.budget_window_hours)
        since = L.history_since(entries)
        lost = L.history_lost_at(entries)
        note = None
        if lost:
            note = (
                f"history known since {lost:%Y-%m-%d %H:%M} UTC only (the ledger was lost; "
                "orders before that are counted only if their certificate is in archive/)"
            )
        last = L.last_attempts(entries, key, 1)
        return Status(
            names=s.domains,
            lineage=self.lineage.name,
            cert=cert,
            staging=staging,
            days_left=days_left,
            last_attempt=last[0] if last else None,
            next_renewal=next_renewal,
            budget_left=L.budget_left(entries, key, now, s.budget_max_orders, budget_window),
            blocked_until=blocked_until,
            blocked_reason=blocked_reason,
            authenticator=authenticator,
            problems=problems,
            served_serial=served_serial,
            lineages=[lineage.name for lineage in lineage_family(s.certbot_config_dir, s.lineage)],
            history_since=since,
            history_note=note,
            ledger_paths=[str(path) for path in self.ledger.paths],
        )

    def _cert_problems(self, cert: CertInfo | None) -> list[str]:
        if cert is None:
            return ["no certificate"]
        now = self.clock()
        if now >= cert.not_after:
            return [
                f"the certificate expired on {cert.not_after:%Y-%m-%d %H:%M} UTC: browsers "
                "reject the site; run `wapang certs ensure` and read its error"
            ]
        threshold = min(timedelta(days=LOW_DAYS_LEFT), cert.lifetime * LOW_FRACTION_LEFT)
        left = cert.not_after - now
        if left < threshold:
            return [
                f"only {cert.days_left(now):.1f} days left (renewal should have happened "
                "by now: read `last attempt`)"
            ]
        return []


def _writable_problem(directory: Path) -> str | None:
    """Why files cannot be created in `directory` (made if missing), or None."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".wapang-probe-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


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
