"""One order, once the decision and the gates allow it (certbot's client.py): the preflight,
a staging dry run before a name set's first production order, then `replaces` inside the CA's
renewal window (ARI) or certbot with the webroot. Success is read from certbot's exit status
and the lineage on disk, never from its output; an issued certificate is then served."""

from __future__ import annotations

import logging

from wapang.edge.certbot import FailureInfo, describe_problems
from wapang.edge.certificates import CertInfo
from wapang.edge.context import Context
from wapang.edge.decision import ari_exempt, cached_window
from wapang.edge.ledger import LedgerEntry, ever_ordered_in_production
from wapang.edge.lineage import archived_certificates
from wapang.edge.outcome import Outcome
from wapang.edge.preflight import profile_problems, run_preflight
from wapang.edge.repairs import prove_renewal, resolve_lineage
from wapang.edge.serving import activate

log = logging.getLogger("wapang.edge")


def order(
    context: Context, reason: str, entries: list[LedgerEntry], forced: bool = False
) -> Outcome:
    settings, lineage = context.settings, context.lineage
    first_order = not ever_ordered_in_production(entries, context.names_key)
    if first_order:
        refused = preflight(context, "staging", reason, forced)
        if refused:
            return refused
        dry = context.certbot.certonly(
            settings.acme_staging_server, lineage.name, dry_run=True, renew=False
        )
        failure = context.recorder.record(
            "dry_run", dry, production=False, reason=reason, forced=forced
        )
        if failure:
            return _failed(context, "staging dry run failed; no production order made", failure)
    refused = preflight(context, "production", reason, forced)
    if refused:
        return refused
    if cached_window(context):
        renewed = _order_with_replaces(context, reason, forced)
        if renewed:
            return renewed
    before = _serials_on_disk(context)
    renew = lineage.renewal_conf.exists()
    result = context.certbot.certonly(
        settings.acme_server, lineage.name, dry_run=False, renew=renew
    )
    cert = _new_certificate(context, before)
    serial = cert.serial_hex if cert else None
    failure = context.recorder.record(
        "order", result, ok=cert is not None, reason=reason, forced=forced, serial=serial
    )
    if cert is None:
        assert failure is not None
        why = (
            "production order failed"
            if not result.ok
            else "certbot exited 0 but saved no new certificate for DOMAINS"
        )
        return _failed(context, why, failure)
    return _issued(context, cert, reason, prove=first_order)


def preflight(context: Context, stage: str, reason: str, forced: bool) -> Outcome | None:
    """None when every name passes; else a refusal recorded in the ledger (no order)."""
    settings = context.settings
    if not settings.preflight:
        return None
    problems = run_preflight(settings).problems + profile_problems(settings)
    if not problems:
        return None
    summary = describe_problems(problems)
    context.recorder.record(
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
        retry_at=context.backoff(),
        problems=problems,
    )


def _order_with_replaces(context: Context, reason: str, forced: bool) -> Outcome | None:
    """An ARI renewal; None (fall back to a plain order) when the CA says alreadyReplaced."""
    from wapang.edge import ari_client  # acme: installed with the edge group only

    settings, recorder = context.settings, context.recorder
    replaces = ari_client.cert_id((context.lineage.live_dir / "cert.pem").read_bytes())
    exempt = ari_exempt(context)
    try:
        renewed = ari_client.order_replacing(settings, settings.acme_server, context.lineage)
    except Exception as exc:  # every ACME/network failure is recorded
        problem = ari_client.problem_of(exc)
        summary = describe_problems([problem])
        recorder.record(
            "order",
            ok=False,
            reason=reason,
            forced=forced,
            error=summary,
            problems=[problem],
            ari=exempt,
            replaces=replaces,
        )
        if ari_client.is_already_replaced(exc):
            log.warning("the CA says %s was already replaced; ordering without replaces", replaces)
            return None
        return Outcome(
            "failed",
            f"renewal with replaces failed: {summary}",
            retry_at=context.backoff(),
            problems=[problem],
        )
    cert = context.current_cert()
    assert cert is not None
    recorder.record(
        "order", reason=reason, forced=forced, serial=cert.serial_hex, ari=exempt, replaces=replaces
    )
    kind = "ARI renewal, exempt from rate limits" if exempt else "replaces sent, before the window"
    outcome = _issued(context, cert, f"{reason}; {kind}", prove=False)
    outcome.notes.append(f"order carried replaces={replaces}; archive version {renewed.version}")
    return outcome


def _serials_on_disk(context: Context) -> set[int]:
    config_dir = context.settings.certbot_config_dir
    return {cert.serial for _, cert in archived_certificates(config_dir)}


def _new_certificate(context: Context, before: set[int]) -> CertInfo | None:
    """The certificate certbot saved in this run, wherever it put it (the lineage, or a
    `-000N` sibling it made): read from disk, never from its output."""
    resolve_lineage(context, repair=True)
    cert = context.current_cert()
    if cert and cert.serial not in before and cert.names == frozenset(context.settings.domains):
        return cert
    return None


def _issued(context: Context, cert: CertInfo, reason: str, prove: bool) -> Outcome:
    outcome = activate(context, cert)
    outcome.action = "issued" if outcome.ok else outcome.action
    outcome.message = f"issued serial {cert.serial_hex} ({reason}); {outcome.message}"
    if prove:
        outcome.notes.append(prove_renewal(context))
    return outcome


def _failed(context: Context, message: str, failure: FailureInfo) -> Outcome:
    retry = context.backoff()
    if failure.retry_after and (retry is None or failure.retry_after > retry):
        retry = failure.retry_after
    return Outcome(
        "failed", f"{message}: {failure.summary}", retry_at=retry, problems=failure.problems
    )
