"""What `wapang db backup` and `wapang db restore` print and exit with (the work is in backup.py
and restore.py)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from wapang.config import Settings
from wapang.db.backup import Backup, BackupError, backup, latest
from wapang.db.restore import RestoreError, check, restore, verified_manifest

RETRY_AFTER_FAILURE_SECONDS = 900  # the scheduled loop retries a failed backup this soon


def run_backups(
    settings: Settings,
    release_tag: str | None,
    repeat: bool,
    out: Console,
    metrics_port: int | None = None,
) -> int:
    """One backup (exit 0/1), or with `repeat` forever: a backup whenever the newest one in
    BACKUP_DIR is BACKUP_INTERVAL_HOURS old, so a restarted service keeps the schedule; with
    `metrics_port`, the newest backup's time for Prometheus (db/backup_metrics.py)."""
    if not repeat:
        return _backup_once(settings, release_tag, out)
    if metrics_port is not None:
        from wapang.db.backup_metrics import serve_backup_metrics

        serve_backup_metrics(settings.BACKUP_DIR, metrics_port)
    while True:
        wait = seconds_until_due(settings)
        if wait > 0:
            time.sleep(wait)
        elif _backup_once(settings, release_tag, out) != 0:
            time.sleep(RETRY_AFTER_FAILURE_SECONDS)


def seconds_until_due(settings: Settings, now: datetime | None = None) -> float:
    newest = latest(settings.BACKUP_DIR)
    if newest is None:
        return 0
    due = newest[1].created + timedelta(hours=settings.BACKUP_INTERVAL_HOURS)
    return max(0.0, (due - (now or datetime.now(UTC))).total_seconds())


def _backup_once(settings: Settings, release_tag: str | None, out: Console) -> int:
    try:
        taken = backup(settings, release_tag)
    except BackupError as error:
        _say(out, f"[bold red]backup FAILED[/bold red] {escape(str(error))}")
        return 1
    _report(taken, out)
    return 0


def _report(taken: Backup, out: Console) -> None:
    m = taken.manifest
    rows = sum(m.row_counts.values())
    _say(
        out,
        f"backup {taken.data} ({m.size_bytes} bytes, sha256 {m.sha256}): schema "
        f"{m.schema_revision}, {len(m.row_counts)} tables, {rows} rows, release "
        f"{m.release_tag or 'unknown'}",
    )
    for name in taken.removed:
        _say(out, f"removed by retention: {name}")
    for key in taken.uploaded:
        _say(out, f"copied off-host: {key}")


def restore_or_check(settings: Settings, data: Path, drill: bool, yes: bool, out: Console) -> int:
    try:
        if drill:
            return _drill(settings, data, out)
        manifest = verified_manifest(settings, data)
        database = settings.summary()["database"]
        _say(
            out,
            f"{data.name}: taken {manifest.created_at}, schema {manifest.schema_revision}, "
            f"release {manifest.release_tag or 'unknown'}, checksum OK",
        )
        if not yes and not typer.confirm(
            f"Replace everything in {database} with this backup?", default=False
        ):
            _say(out, "nothing restored")
            return 1
        restore(settings, data)
    except (RestoreError, BackupError) as error:
        _say(out, f"[bold red]restore REFUSED[/bold red] {escape(str(error))}")
        return 1
    _say(out, f"restored {data.name} into {database}")
    return 0


def _drill(settings: Settings, data: Path, out: Console) -> int:
    result = check(settings, data)
    for table, rows in sorted(result.row_counts.items()):
        expected = result.manifest.row_counts.get(table)
        _say(out, f"  {table}: {rows} rows (manifest: {expected})")
    _say(out, f"alembic current: {result.alembic_current}")
    for problem in result.problems:
        _say(out, f"[bold red]MISMATCH[/bold red] {escape(problem)}")
    verdict = "restore check passed" if result.ok else "restore check FAILED"
    _say(out, f"{verdict}: restored into {result.scratch}")
    return 0 if result.ok else 1


def _say(out: Console, line: str) -> None:
    """One line, never wrapped (paths and digests stay greppable), no auto-highlighting."""
    out.print(line, highlight=False, soft_wrap=True)
