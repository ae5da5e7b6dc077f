"""The `wapang` command: serve the API, migrate the database, check a configuration."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from wapang.config import Dialect, write_development_secrets
from wapang.console import load_settings_or_exit
from wapang.delivery.cli import config_app
from wapang.delivery.rehearse import rehearse_command
from wapang.delivery.status import status_command
from wapang.delivery.verify import verify_command
from wapang.edge.cli import app as certs_app
from wapang.logs import configure_logging, logging_config

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"  # wapang.metrics reads it at import
WORKER_STARTUP_SECONDS = 30
logger = logging.getLogger("wapang")

app = typer.Typer(
    help="wapang: the commerce API, its HTTPS edge and its delivery tools.", no_args_is_help=True
)
app.add_typer(certs_app, name="certs")
db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")
app.command("verify")(verify_command)
app.command("rehearse")(rehearse_command)
app.command("status")(status_command)

console = Console()

EnvFile = Annotated[
    Path | None,
    typer.Option("--env-file", help="Read settings from this file as well as the environment."),
]


@app.command("check-config")
def check_config(env_file: EnvFile = None) -> None:
    """Validate the configuration: list every problem (exit 2) or summarise it (exit 0).

    Secret values are never printed, only whether they are set.
    """
    settings = load_settings_or_exit(env_file)
    table = Table(title="wapang configuration: OK", show_header=False)
    for name, value in settings.summary().items():
        table.add_row(name, value)
    console.print(table)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    env_file: EnvFile = None,
) -> None:
    """Apply the database migrations to the configured database."""
    from wapang.db.migrate import upgrade

    settings = load_settings_or_exit(env_file)
    upgrade(settings, revision)
    console.print(f"database migrated to {revision}: {settings.summary()['database']}")


@db_app.command("backup")
def db_backup(
    release_tag: Annotated[
        str | None,
        typer.Option(envvar="RELEASE_TAG", help="The release running (compose: the image tag)."),
    ] = None,
    repeat: Annotated[
        bool,
        typer.Option(help="Keep running: a backup every BACKUP_INTERVAL_HOURS (the service)."),
    ] = False,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            help="With --repeat: serve wapang_backup_last_success_timestamp_seconds on this "
            "port (Prometheus text format)."
        ),
    ] = None,
    env_file: EnvFile = None,
) -> None:
    """Back up the configured database into BACKUP_DIR (gzip, sha256, manifest), prune by
    BACKUP_KEEP_DAILY/BACKUP_KEEP_WEEKLY, copy off-host when BACKUP_S3_BUCKET is set."""
    from wapang.db.commands import run_backups

    settings = load_settings_or_exit(env_file)
    if metrics_port is not None and not repeat:
        raise typer.BadParameter("--metrics-port needs --repeat (a one-shot backup serves none)")
    raise typer.Exit(run_backups(settings, release_tag, repeat, console, metrics_port))


@db_app.command("restore")
def db_restore(
    backup_file: Annotated[Path, typer.Argument(help="The backup: NAME.sql.gz or NAME.sqlite.gz.")],
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Restore into a scratch database, compare it, drop it: a drill."
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    env_file: EnvFile = None,
) -> None:
    """Replace the configured database with a backup (after checking it), or --check a backup
    by restoring it into a scratch database without touching the configured one."""
    from wapang.db.commands import restore_or_check

    settings = load_settings_or_exit(env_file)
    raise typer.Exit(restore_or_check(settings, backup_file, check, yes, console))


@db_app.command("check-migrations")
def db_check_migrations(env_file: EnvFile = None) -> None:
    """Flag the pending migrations that break the release still serving during a deploy
    (drop/rename, narrowing, NOT NULL without default, dropped index); exit 1 if any."""
    from wapang.db.migration_safety import CONTRACT_MARKER, check_migrations

    settings = load_settings_or_exit(env_file)
    pending, findings = check_migrations(settings)
    for finding in findings:
        console.print(f"[bold red]UNSAFE[/bold red] {finding}", highlight=False, soft_wrap=True)
    if findings:
        console.print(
            "the release still serving breaks on these: split them into an expand step and a "
            f"later contract step (module-level {CONTRACT_MARKER} = '<expand revision>'); "
            "DEPLOY.md, 'Writing migrations for zero-downtime deploys'",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)
    console.print(f"{len(pending)} pending revision(s), none breaks the serving release")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    proxy_headers: Annotated[
        bool, typer.Option(help="Trust X-Forwarded-* from --forwarded-allow-ips (behind nginx).")
    ] = True,
    forwarded_allow_ips: Annotated[str, typer.Option(help="Proxies to trust.")] = "127.0.0.1",
    env_file: EnvFile = None,
    asgi_app: Annotated[
        str,
        typer.Option(
            "--app",
            hidden=True,  # the bench's variant without request telemetry (bench/untraced.py)
            help="Import string of the ASGI app to serve.",
        ),
    ] = "wapang.api.main:app",
) -> None:
    """Run the API with uvicorn. On the SQLite default the schema is migrated first."""
    settings = load_settings_or_exit(env_file)
    configure_logging(settings.log_format)
    metrics_dir = _fresh_metrics_directory()  # for the worker processes (metrics.py)
    import uvicorn

    from wapang.db.migrate import upgrade

    if settings.missing_secrets:  # a local run: production refuses to load without them
        write_development_secrets()
        settings = load_settings_or_exit(env_file)
    if settings.DB_DIALECT is Dialect.SQLITE:
        upgrade(settings)
    logger.info(
        "wapang serve on %s:%s, %s worker(s)",
        host,
        port,
        workers,
        extra={"settings": settings.summary()},
    )
    if settings.uses_generated_secrets:
        logger.warning("running locally with generated development secrets (in .wapang/)")
    try:
        uvicorn.run(
            asgi_app,
            host=host,
            port=port,
            workers=workers,
            proxy_headers=proxy_headers,
            forwarded_allow_ips=forwarded_allow_ips,
            env_file=str(env_file) if env_file else None,
            log_config=logging_config(settings.log_format),
            access_log=False,  # the app logs each request itself (api/middleware.py)
            # A worker answers the supervisor's ping only once it has imported the app: on two
            # busy cores that takes over uvicorn's 5 s, and every worker was killed in a loop.
            timeout_worker_healthcheck=WORKER_STARTUP_SECONDS,
        )
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _fresh_metrics_directory() -> Path:
    """PROMETHEUS_MULTIPROC_DIR for the workers: the given one emptied, or a new one. Files a
    previous run left would otherwise be summed into this run's counters."""
    given = os.environ.get(MULTIPROCESS_DIR_VARIABLE)
    if given:
        directory = Path(given)
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
    else:
        directory = Path(tempfile.mkdtemp(prefix="wapang-metrics-"))
        os.environ[MULTIPROCESS_DIR_VARIABLE] = str(directory)
    return directory


if __name__ == "__main__":
    app()
