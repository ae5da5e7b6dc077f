"""What nginx serves: a placeholder until a certificate exists (so nginx can always start),
then the chosen lineage, reloaded (`nginx -t` first) and checked by the serial nginx serves."""

from __future__ import annotations

from wapang.edge import nginx
from wapang.edge.certificates import CertInfo, write_placeholder
from wapang.edge.context import Context
from wapang.edge.errors import EdgeError
from wapang.edge.outcome import Outcome
from wapang.edge.settings import EdgeSettings


def bootstrap(settings: EdgeSettings) -> None:
    """Directories, and a placeholder behind the `current` link if nothing is there yet."""
    settings.webroot.mkdir(parents=True, exist_ok=True)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    if not (settings.tls_dir / "fullchain.pem").exists():
        write_placeholder(settings.placeholder_dir, settings.domains)
        nginx.point_link(settings.tls_dir, settings.placeholder_dir)


def sync_nginx(context: Context, cert: CertInfo) -> Outcome:
    """Nothing to order; still repair a crash between an order and the reload."""
    settings = context.settings
    linked = nginx.links_to(settings.tls_dir, context.lineage.live_dir)
    served, _ = nginx.served_serial(settings)
    if linked and served == cert.serial:
        days = cert.days_left(context.clock())
        message = f"certificate valid, {days:.0f} days left"
        return Outcome("nothing", message, serial=cert.serial_hex)
    if linked and served is None:
        message = (
            f"certificate valid; nginx not reachable at {settings.verify_host}:"
            f"{settings.effective_verify_port} to check the served serial"
        )
        return Outcome("nothing", message, serial=cert.serial_hex)
    return activate(context, cert)


def activate(context: Context, cert: CertInfo) -> Outcome:
    """Point nginx at the live lineage, reload (nginx -t first) and check what it serves."""
    try:
        nginx.serve(context.settings, context.lineage.live_dir, cert.serial)
    except EdgeError as exc:
        return Outcome("failed", f"nginx does not serve serial {cert.serial_hex}: {exc}")
    message = f"nginx serves serial {cert.serial_hex}"
    return Outcome("activated", message, serial=cert.serial_hex)
