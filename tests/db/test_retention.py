"""Backup retention: the newest backup of each of the last BACKUP_KEEP_DAILY days that have one,
and of each of the last BACKUP_KEEP_WEEKLY ISO weeks; everything else is removed."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from harness.apps import WAPANG, clean_env
from harness.processes import Service
from tests.databases import sqlite_settings
from tests.examples import TEST_SECRETS
from wapang.db.backup import Manifest, backup, kept, manifests, prune
from wapang.db.commands import seconds_until_due
from wapang.db.migrate import upgrade

START = datetime(2026, 10, 1, 3, 0, tzinfo=UTC)  # a Thursday


def test_dailies_then_weeklies() -> None:
    # Two backups a day (03:00 scheduled, 15:00 by hand) for 60 days.
    taken = [START + timedelta(days=d, hours=h) for d in range(60) for h in (0, 12)]
    keep = kept(taken, keep_daily=7, keep_weekly=4)
    newest = max(taken)
    last_days = {newest.date() - timedelta(days=n) for n in range(7)}
    dailies = {t for t in taken if t.date() in last_days and t.hour == 15}
    assert dailies <= keep
    weeks = {t.isocalendar()[:2] for t in keep}
    assert len(weeks) == 4, "the last four weeks, each its newest backup"
    weeklies = keep - dailies
    for moment in weeklies:
        same_week = [t for t in taken if t.isocalendar()[:2] == moment.isocalendar()[:2]]
        assert moment == max(same_week)
    assert len(keep) == 7 + len(weeklies)
    assert newest in keep


def test_a_single_backup_is_always_kept() -> None:
    assert kept([START], keep_daily=1, keep_weekly=0) == {START}


def test_prune_removes_the_data_checksum_and_manifest(tmp_path: Path) -> None:
    template = Manifest(
        file="",
        created_at="",
        dialect="sqlite",
        database="x",
        sha256="0" * 64,
        size_bytes=1,
        schema_revision="r",
        row_counts={},
        release_tag=None,
    )
    for day in range(10):
        moment = START + timedelta(days=day)
        stem = f"wapang-{moment:%Y%m%dT%H%M%SZ}"
        for suffix in (".sqlite.gz", ".sqlite.gz.sha256"):
            (tmp_path / f"{stem}{suffix}").write_bytes(b"x")
        replace(template, file=f"{stem}.sqlite.gz", created_at=moment.isoformat()).write(
            tmp_path / f"{stem}.json"
        )
    (tmp_path / "notes.txt").write_text("not a backup: left alone")
    removed = prune(tmp_path, keep_daily=3, keep_weekly=0)
    assert len(removed) == 7
    left = [m.created for _, m in manifests(tmp_path)]
    assert left == [START + timedelta(days=d) for d in (7, 8, 9)]
    assert len(list(tmp_path.glob("*.sqlite.gz"))) == 3
    assert len(list(tmp_path.glob("*.sha256"))) == 3
    assert (tmp_path / "notes.txt").exists()


def test_the_schedule_counts_from_the_newest_backup(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path, BACKUP_DIR=str(tmp_path / "b"), BACKUP_INTERVAL_HOURS=24)
    assert seconds_until_due(settings) == 0, "no backup yet: one at once"
    upgrade(settings)
    taken = backup(settings)
    at = taken.manifest.created
    assert seconds_until_due(settings, at + timedelta(hours=1)) == 23 * 3600
    assert seconds_until_due(settings, at + timedelta(hours=25)) == 0


def test_the_backup_service_backs_up_at_once_on_an_empty_volume(tmp_path: Path) -> None:
    """`wapang db backup --repeat` (the compose service's command) as a process."""
    settings = sqlite_settings(tmp_path, BACKUP_DIR=str(tmp_path / "b"))
    upgrade(settings)
    env = clean_env(
        ENV="test",
        DB_DATABASE=str(settings.DB_DATABASE),
        BACKUP_DIR=str(settings.BACKUP_DIR),
        RELEASE_TAG="sha-service",
        **TEST_SECRETS,
    )
    service = Service.start(
        "backup", [WAPANG, "db", "backup", "--repeat"], tmp_path / "backup.log", env=env
    )
    try:
        deadline = time.monotonic() + 60
        while not manifests(settings.BACKUP_DIR) and time.monotonic() < deadline:
            assert service.process.poll() is None, (tmp_path / "backup.log").read_text()
            time.sleep(0.2)
        (found,) = manifests(settings.BACKUP_DIR)
        assert found[1].release_tag == "sha-service"
        assert service.process.poll() is None, "it keeps running until the next one is due"
    finally:
        service.stop()
