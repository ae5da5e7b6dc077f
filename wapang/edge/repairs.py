"""What a pass repairs before it decides, so no loss re-orders or resets the budget: the
ledger's copies merged and completed from the certificates archive/ still holds, broken live/
links relinked, a `-000N` sibling certbot made adopted, a renewal conf that is not webroot
rewritten and the renewal path proved."""

from __future__ import annotations

import logging

from wapang.edge.certbot import switch_to_webroot
from wapang.edge.certificates import CertInfo
from wapang.edge.context import Context
from wapang.edge.decision import lineage_is_staging
from wapang.edge.ledger import LedgerEntry, known_serials, name_set_key
from wapang.edge.lineage import Lineage, archived_certificates, choose, lineage_family, retire

log = logging.getLogger("wapang.edge")


def reconcile_ledger(context: Context) -> list[str]:
    notes = []
    ledger, recorder = context.ledger, context.recorder
    if not ledger.exists():
        lost = _certbot_state_exists(context)
        reason = "ledger started over existing certbot state: earlier orders unknown"
        recorder.record("start", history_lost=lost, reason=reason if lost else "new ledger")
        if lost:
            notes.append(
                "no ledger found but certbot state exists: history rebuilt from "
                "archive/, one order allowed until a full budget window is known"
            )
    healed = ledger.heal()
    if healed:
        notes.append("ledger copies merged into " + ", ".join(str(p) for p in healed))
    for entry in observed_orders(context, context.entries()):
        ledger.append(entry)
        notes.append(f"counted certificate {entry.serial} found in archive/ ({entry.reason})")
    return notes


def _certbot_state_exists(context: Context) -> bool:
    config = context.settings.certbot_config_dir
    return any(
        (config / part).is_dir() and any((config / part).iterdir())
        for part in ("archive", "renewal", "accounts")
    )


def observed_orders(context: Context, entries: list[LedgerEntry]) -> list[LedgerEntry]:
    """Certificates in archive/ for this name set that the ledger does not know: orders
    made outside the manager (a plain `certbot renew`, an older deployment) or forgotten."""
    settings = context.settings
    known = known_serials(entries)
    found = []
    for path, cert in archived_certificates(settings.certbot_config_dir):
        if name_set_key(cert.names) != context.names_key or cert.serial_hex in known:
            continue
        known.add(cert.serial_hex)
        staging = cert.is_staging(settings.acme_staging_issuer_pattern)
        found.append(
            context.recorder.entry(
                "order",
                ts=cert.not_before,
                server="staging" if staging else "production",
                production=not staging,
                serial=cert.serial_hex,
                observed=True,
                reason=f"{path.parent.name}/{path.name}, issued {cert.not_before:%Y-%m-%d %H:%M}",
            )
        )
    return found


def resolve_lineage(context: Context, repair: bool) -> list[str]:
    """Pick the lineage to serve among `<name>` and certbot's `<name>-000N`; with repair,
    relink broken live/ dirs first and retire superseded siblings."""
    settings = context.settings
    family = lineage_family(settings.certbot_config_dir, settings.lineage)
    fixes = [note for lineage in family if repair and (note := lineage.repair_links())]

    def staging(lineage: Lineage, cert: CertInfo) -> bool:
        return lineage_is_staging(settings, lineage, cert)

    chosen = choose(family, frozenset(settings.domains), staging)
    if chosen is not None:
        context.lineage = chosen
        fixes += [
            retire(lineage, chosen)
            for lineage in family
            if repair and lineage != chosen and lineage.renewal_conf.exists()
        ]
    for note in fixes:
        context.recorder.record("fix", reason=note)
    return fixes


def repair_renewal_conf(context: Context) -> list[str]:
    settings = context.settings
    conf = context.lineage.renewal_conf
    was = switch_to_webroot(conf, settings.webroot, settings.domains)
    if was is None:
        return []
    log.warning("renewal conf %s used %s; switched to webroot", conf, was)
    context.recorder.record("fix", reason=f"authenticator {was} -> webroot")
    return [f"renewal conf used authenticator {was}; fixed", prove_renewal(context)]


def prove_renewal(context: Context) -> str:
    """`certbot renew --dry-run` against the STAGING directory: the path renewals take,
    without a production order."""
    result = context.certbot.renew_dry_run(context.lineage.name)
    failure = context.recorder.record(
        "renew_dry_run", result, production=False, reason="prove renewal"
    )
    return "renewal dry run FAILED: " + failure.summary if failure else "renewal dry run passed"
