"""`wapang certs ...`: status, ensure (one pass), run (the loop), bootstrap, render-nginx."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table

from wapang.edge.errors import EdgeConfigError, EdgeError
from wapang.edge.manager import Manager
from wapang.edge.nginx import render_templates, write_loopback_config
from wapang.edge.outcome import Outcome
from wapang.edge.settings import EdgeSettings, load_settings
from wapang.edge.status import Status
from wapang.logs import LogFormat, configure_logging

app = typer.Typer(
    name="certs",
    help="The HTTPS edge: certificate manager (certbot, webroot) and nginx config.",
    no_args_is_help=True,
)
console = Console(stderr=True)
out = Console()

EXIT_FAILED = 1
EXIT_REFUSED = 3
EXIT_CONFIG = 2  # like `wapang check-config`
MIN_LOOP_SLEEP_SECONDS = 60.0


def _settings() -> EdgeSettings:
    try:
        return load_settings()
    except EdgeConfigError as exc:
        _print_problems("Edge configuration is invalid:", exc)
        raise typer.Exit(EXIT_CONFIG) from None


def _print_problems(title: str, exc: EdgeConfigError) -> None:
    console.print(f"[bold red]{title}[/]")
    for problem in exc.problems:
        console.print(f"  • {problem}", markup=False, soft_wrap=True)


def _reason(exc: BaseException) -> str:
    """An error as one sentence: the OS's reason and the path for file errors."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror}{where}"
    return str(exc) or type(exc).__name__


def _setup_logging(verbose: bool, log_format: LogFormat = LogFormat.TEXT) -> None:
    if log_format is LogFormat.JSON:  # one JSON object per line for the log shipper
        configure_logging(log_format, "DEBUG" if verbose else "INFO")
        return
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
        force=True,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # logs URLs: the webhook's is secret


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def _print_outcome(outcome: Outcome) -> None:
    style = {"refused": "yellow", "failed": "bold red"}.get(outcome.action, "green")
    console.print(f"[{style}]{outcome.action}[/]: ", end="", highlight=False)
    console.print(outcome.message, markup=False, highlight=False, soft_wrap=True)
    for problem in outcome.problems:
        name = f"{problem['name']}: " if problem["name"] else ""
        console.print(
            f"  {name}{problem['type']}: {problem['detail']}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    for note in outcome.notes:
        console.print(f"  note: {note}", highlight=False)
    if outcome.retry_at and not outcome.ok:
        console.print(f"  next attempt allowed at {_when(outcome.retry_at)}", highlight=False)


def _exit_code(outcome: Outcome) -> int:
    if outcome.ok:
        return 0
    return EXIT_REFUSED if outcome.action == "refused" else EXIT_FAILED


@app.command()
def ensure(
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Order NOW, ignoring lifetime, budget, Retry-After and backoff. "
            "Burns Let's Encrypt rate limit; recorded as forced in the ledger.",
        ),
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """One decision pass: order only if needed and allowed, then make nginx serve it."""
    _setup_logging(verbose)
    settings = _settings()
    if force:
        console.print(
            "[bold red]--force: ignoring budget, Retry-After and backoff. "
            "This may burn the Let's Encrypt rate limit (5 per week per name set).[/]"
        )
    manager = Manager(settings)
    try:
        outcome = manager.ensure(force=force)
    except EdgeConfigError as exc:
        _print_problems("This host is not ready for an order (nothing was sent to the CA):", exc)
        raise typer.Exit(EXIT_CONFIG) from None
    except (EdgeError, OSError) as exc:
        console.print("[bold red]failed[/]: ", end="")
        console.print(_reason(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_FAILED) from None
    _print_outcome(outcome)
    raise typer.Exit(_exit_code(outcome))


@app.command()
def bootstrap() -> None:
    """Directories and the placeholder certificate, so nginx can start (compose's certs-init)."""
    settings = _settings()
    Manager(settings).bootstrap()
    console.print(f"ready: {settings.tls_dir / 'fullchain.pem'}", highlight=False)


@app.command()
def run(
    interval: Annotated[
        float | None, typer.Option(help="Seconds between passes (default LOOP_INTERVAL_SECONDS)")
    ] = None,
    max_passes: Annotated[int | None, typer.Option(help="Stop after N passes (tests)")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """The loop the certbot container runs: ensure, sleep, repeat. Never exits on errors:
    a pass that cannot run is logged with its reason and retried with backoff, while nginx
    keeps serving what it has."""
    settings = _settings()
    _setup_logging(verbose, settings.log_format)
    from wapang.edge.observe import PassObserver  # prometheus_client: only the loop needs it

    observer = PassObserver(settings)
    every = interval if interval is not None else settings.loop_interval_seconds
    passes = errors_in_a_row = 0
    while max_passes is None or passes < max_passes:
        passes += 1
        outcome = _one_pass(settings)
        observer.after_pass(outcome)
        errors_in_a_row = errors_in_a_row + 1 if outcome is None else 0
        if max_passes is not None and passes >= max_passes:
            break
        time.sleep(_sleep_for(outcome, every, errors_in_a_row, settings))
    observer.finish()


def _one_pass(settings: EdgeSettings) -> Outcome | None:
    """One ensure; None when it could not run at all (the reason is logged, no traceback)."""
    logger = logging.getLogger("wapang.edge")
    try:
        outcome = Manager(settings).ensure()
    except EdgeConfigError as exc:
        logger.error("pass not run, this host is not ready: %s", "; ".join(exc.problems))
        return None
    except Exception as exc:  # the loop must outlive any single failure
        logger.error("pass failed: %s", _reason(exc), exc_info=logger.isEnabledFor(logging.DEBUG))
        return None
    if settings.log_format is LogFormat.TEXT:  # with json, the pass's event says it (observe.py)
        _print_outcome(outcome)
    return outcome


def _sleep_for(
    outcome: Outcome | None, every: float, errors_in_a_row: int, settings: EdgeSettings
) -> float:
    """Wake up early when a refusal or backoff ends before the next regular pass; after a
    pass that could not run, retry with backoff (base, 2·base … up to the maximum)."""
    if outcome is None:
        delay = settings.backoff_base_seconds * float(1 << min(errors_in_a_row - 1, 32))
        return min(every, delay, settings.backoff_max_seconds)
    if outcome.retry_at:
        until = (outcome.retry_at - datetime.now(UTC)).total_seconds() + 1
        return max(min(every, until), min(every, MIN_LOOP_SLEEP_SECONDS))
    return every


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Names, issuer, expiry, last attempt, next renewal, budget. Exit 1 when unhealthy
    (fewer than 14 days left, or the last two attempts failed)."""
    settings = _settings()
    try:
        report = Manager(settings).status()
    except (EdgeError, OSError) as exc:
        console.print("[bold red]status unavailable[/]: ", end="")
        console.print(_reason(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_FAILED) from None
    if as_json:
        out.print_json(json.dumps(report.as_json()))
    else:
        _print_status(report)
    raise typer.Exit(0 if report.healthy else EXIT_FAILED)


def _print_status(report: Status) -> None:
    cert = report.cert
    table = Table(title=f"certificate {report.lineage}", show_header=False)
    table.add_row("names", ", ".join(report.names))
    table.add_row("issuer", cert.issuer if cert else "[red]no certificate[/]")
    if cert:
        env = "[yellow]STAGING[/]" if report.staging else "production"
        table.add_row("environment", env)
        table.add_row("serial", cert.serial_hex)
        table.add_row("not after", _when(cert.not_after))
        table.add_row("days left", f"{report.days_left:.1f}")
        table.add_row("served by nginx", report.served_serial or "[red]nothing reachable[/]")
    if len(report.lineages) > 1 or (report.lineages and report.lineages != [report.lineage]):
        table.add_row("lineages on disk", ", ".join(report.lineages))
    last = report.last_attempt
    if last:
        result = "ok" if last.ok else f"[red]failed[/]: {escape(last.error or '')}"
        table.add_row("last attempt", f"{_when(last.ts)} {last.kind}: {result}")
    else:
        table.add_row("last attempt", "none recorded")
    table.add_row("next renewal", _when(report.next_renewal))
    table.add_row("orders left", f"{report.budget_left} in the budget window")
    if report.blocked_reason:
        table.add_row("blocked", f"[yellow]{escape(report.blocked_reason)}[/]")
    table.add_row("renewal authenticator", report.authenticator or "—")
    since = _when(report.history_since)
    known = f"known since {since}" if report.history_since else "nothing recorded yet"
    table.add_row("history", report.history_note or known)
    table.add_row("ledger", ", ".join(report.ledger_paths))
    verdict = (
        "[green]healthy[/]"
        if report.healthy
        else "[red]" + escape("; ".join(report.problems)) + "[/]"
    )
    table.add_row("verdict", verdict)
    out.print(table)


@app.command("render-nginx")
def render_nginx(
    output: Annotated[Path, typer.Argument(help="Directory for the rendered conf.d files")],
    loopback_prefix: Annotated[
        bool,
        typer.Option(help="Also write conf/nginx.conf to run nginx unprivileged with -p OUTPUT"),
    ] = False,
) -> None:
    """Render the package's nginx templates with the current settings (what the image does)."""
    settings = _settings()
    try:
        if loopback_prefix:
            main = write_loopback_config(settings, output)
            console.print(f"nginx -p {output} -c {main}")
        else:
            for written in render_templates(settings, output):
                console.print(str(written))
    except EdgeError as exc:
        console.print(f"[bold red]render failed[/]: {exc}", highlight=False)
        raise typer.Exit(EXIT_FAILED) from None
