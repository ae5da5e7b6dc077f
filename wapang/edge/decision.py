"""Should this name set be ordered now? The certificate on disk against DOMAINS, its lifetime,
the CA's renewal window (ARI, cached between passes) and staging: in the spirit of certbot's
renewal.py. The gates that may still refuse an order (Retry-After, backoff, budget) are the
ledger's (`check_gates` in ledger.py)."""

from __future__ import annotations

import logging

from wapang.edge.ari_cache import RenewalWindow, load_state, save_state
from wapang.edge.certificates import RENEWAL_DUE, CertInfo, needs_order
from wapang.edge.context import Context
from wapang.edge.lineage import Lineage
from wapang.edge.settings import EdgeSettings

log = logging.getLogger("wapang.edge")


def lineage_is_staging(settings: EdgeSettings, lineage: Lineage, cert: CertInfo) -> bool:
    """Issuer named like a staging CA, or the lineage was last issued by the staging URL."""
    if cert.is_staging(settings.acme_staging_issuer_pattern):
        return True
    return lineage.renewal_param("server") == settings.acme_staging_server


def is_staging(context: Context, cert: CertInfo) -> bool:
    return lineage_is_staging(context.settings, context.lineage, cert)


def order_reason(context: Context, cert: CertInfo | None) -> str | None:
    """Why an order is needed now, or None when the certificate on disk will do."""
    now = context.clock()
    reason = needs_order(cert, set(context.settings.domains), now)
    if cert is None or reason not in (None, RENEWAL_DUE):
        return reason
    if reason is None and is_staging(context, cert):
        return "a staging certificate is installed but production is configured"
    window = renewal_window(context, cert)
    before_window = window is not None and context.clock() < window.renew_at
    if reason == RENEWAL_DUE:
        return None if before_window else reason  # the CA's window governs when it has one
    return "the CA's renewal info (ARI) says renew now" if window and not before_window else None


def renewal_window(context: Context, cert: CertInfo, online: bool = True) -> RenewalWindow | None:
    """The CA's renewal time for the production certificate (cached until the CA's
    Retry-After); None when it has no renewal info or is unreachable."""
    if is_staging(context, cert):
        return None
    settings = context.settings
    state = settings.state_dir / "renewal-info.json"
    cached = load_state(state, cert.serial_hex)
    if cached and (not online or context.clock() < cached.check_again):
        return cached
    if not online:
        return None
    from wapang.edge import ari_client  # acme: installed with the edge group only

    try:
        pem = (context.lineage.live_dir / "cert.pem").read_bytes()
        window = ari_client.renewal_window(settings, settings.acme_server, pem)
    except Exception as exc:  # the CA's trouble must not stop the pass
        log.info("renewal info unavailable: %s", exc)
        return cached
    if window:
        save_state(state, cert.serial_hex, window)
    return window


def cached_window(context: Context) -> RenewalWindow | None:
    """The CA's window when a production certificate for DOMAINS exists and the CA offers
    renewal info: then the renewal can carry `replaces`."""
    cert = context.current_cert()
    if (
        cert is None
        or cert.names != frozenset(context.settings.domains)
        or is_staging(context, cert)
    ):
        return None
    return renewal_window(context, cert, online=False)


def ari_exempt(context: Context) -> bool:
    """Inside the CA's window an order with `replaces` is exempt from the CA's limits (a
    forced one before the window carries `replaces` too, but counts)."""
    window = cached_window(context)
    return bool(window and context.clock() >= window.renew_at)
