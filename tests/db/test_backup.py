"""`wapang db backup` and `wapang db restore [--check]` on SQLite and on MariaDB (real servers,
real `mariadb-dump`): what a backup holds, that a restore gives it back exactly, that a drill
never touches the configured database, and what is refused."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import os
import secrets
import shutil
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.script import ScriptDirectory
from pydantic import SecretStr
from sqlalchemy import func, select, text

from tests.api.shop import app_settings, execute, fetch, open_shop, sign_up
from tests.requirements import require_available
from wapang.api.models import Base
from wapang.config import Dialect, Settings
from wapang.db.backup import Backup, Manifest, backup, copy_dump
from wapang.db.migrate import alembic_config
from wapang.db.restore import RestoreError, check, restore

ROOT = Path(__file__).resolve().parents[2]


def backup_settings(http: httpx.AsyncClient, directory: Path, **more: Any) -> Settings:
    settings: Settings = app_settings(http)
    if settings.DB_DIALECT is Dialect.MYSQL:
        require_available(shutil.which("mariadb-dump") is not None, "mariadb-dump (mariadb-client)")
    return settings.model_copy(update={"BACKUP_DIR": directory, **more})


async def counts(http: httpx.AsyncClient) -> dict[str, int]:
    found = {}
    for table in Base.metadata.sorted_tables:
        (row,) = await fetch(http, select(func.count()).select_from(table))
        found[table.name] = int(row[0])
    return found


async def some_orders(http: httpx.AsyncClient, buyers: int = 3) -> list[str]:
    """Users, a store, items, and one order per buyer; returns the order ids."""
    _, _, items = await open_shop(http, ("와플", 3000, 50), ("크로플", 4500, 50))
    ids = []
    for n in range(buyers):
        buyer = await sign_up(http)
        ordered = await buyer.order((items[0]["id"], n + 1), (items[1]["id"], 1))
        assert ordered.status_code == 201, ordered.text
        ids.append(ordered.json()["order_id"])
    return ids


def head() -> str:
    return ScriptDirectory.from_config(alembic_config(Settings())).get_current_head() or ""


async def test_a_backup_holds_every_row_with_checksum_and_manifest(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    await some_orders(client)
    settings = backup_settings(client, tmp_path / "backups")
    taken: Backup = await asyncio.to_thread(backup, settings, "sha-1234")
    m = taken.manifest
    expected = await counts(client)
    assert {t: m.row_counts[t] for t in expected} == expected
    assert m.row_counts["orders"] == 3
    assert m.row_counts["alembic_version"] == 1
    assert m.schema_revision == head()
    assert m.release_tag == "sha-1234"
    assert datetime.now(UTC) - m.created < (datetime.now(UTC) - datetime(2026, 1, 1, tzinfo=UTC))
    files = sorted(p.name for p in settings.BACKUP_DIR.iterdir())
    assert files == sorted([m.file, m.file + ".sha256", taken.manifest_path.name])
    for path in settings.BACKUP_DIR.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    with gzip.open(taken.data) as unpacked:  # really gzip
        head_bytes = unpacked.read(16)
    assert head_bytes.startswith(b"SQLite format 3" if settings.DB_DIALECT == "sqlite" else b"")
    checked = subprocess.run(
        ["sha256sum", "-c", m.file + ".sha256"],
        cwd=settings.BACKUP_DIR,
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert json.loads(taken.manifest_path.read_text())["sha256"] == m.sha256


async def test_restore_check_restores_into_a_scratch_database_only(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    await some_orders(client)
    settings = backup_settings(client, tmp_path / "backups")
    taken = await asyncio.to_thread(backup, settings)
    await some_orders(client, buyers=1)  # production moves on after the backup
    before = await counts(client)
    result = await asyncio.to_thread(check, settings, taken.data)
    assert result.ok, result.problems
    assert result.row_counts == taken.manifest.row_counts
    assert result.alembic_current.split()[0] == head()
    assert await counts(client) == before, "the configured database is untouched"
    if settings.DB_DIALECT is Dialect.MYSQL:
        scratch = f"{settings.DB_DATABASE}_restore_check"
        (row,) = await fetch(
            client,
            text(
                "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = :name"
            ).bindparams(name=scratch),
        )
        assert row[0] == 0, "the scratch database is dropped"


async def test_restore_brings_back_exactly_the_backed_up_rows(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    kept_orders = await some_orders(client)
    settings = backup_settings(client, tmp_path / "backups")
    taken = await asyncio.to_thread(backup, settings)
    later_orders = await some_orders(client, buyers=2)
    await asyncio.to_thread(restore, settings, taken.data)
    after = await counts(client)
    assert {t: taken.manifest.row_counts[t] for t in after} == after
    ids = {row[0] for row in await fetch(client, text("SELECT id FROM orders"))}
    assert ids == set(kept_orders)
    assert not ids & set(later_orders)


async def test_a_damaged_backup_is_refused_before_anything_is_touched(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    await some_orders(client)
    settings = backup_settings(client, tmp_path / "backups")
    taken = await asyncio.to_thread(backup, settings)
    await some_orders(client, buyers=1)
    before = await counts(client)
    damaged = bytearray(taken.data.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    taken.data.write_bytes(bytes(damaged))
    with pytest.raises(RestoreError, match="checksum mismatch") as refused:
        await asyncio.to_thread(restore, settings, taken.data)
    assert taken.manifest.sha256 in str(refused.value)
    with pytest.raises(RestoreError, match="checksum mismatch"):
        await asyncio.to_thread(check, settings, taken.data)
    assert await counts(client) == before


async def test_a_backup_of_an_unknown_schema_revision_is_refused(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    settings = backup_settings(client, tmp_path / "backups")
    taken = await asyncio.to_thread(backup, settings, "sha-future")
    newer = json.loads(taken.manifest_path.read_text()) | {"schema_revision": "9f9f9f9f9f9f"}
    taken.manifest_path.write_text(json.dumps(newer))
    with pytest.raises(RestoreError) as refused:
        await asyncio.to_thread(restore, settings, taken.data)
    message = str(refused.value)
    assert "schema revision 9f9f9f9f9f9f" in message
    assert "is not one of this release's migrations" in message
    assert "release sha-future" in message


async def test_the_command_asks_before_it_replaces_the_database(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    """`wapang db restore FILE` answered "n": nothing restored, exit 1; `--yes` restores."""
    await some_orders(client, buyers=1)
    settings = backup_settings(client, tmp_path / "backups")
    taken = await asyncio.to_thread(backup, settings)
    await some_orders(client, buyers=1)
    before = await counts(client)
    env = command_env(settings)
    no = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "wapang.cli", "db", "restore", str(taken.data)],
        input="n\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert no.returncode == 1, no.stdout + no.stderr
    assert "Replace everything in" in no.stdout
    assert "nothing restored" in no.stdout
    assert await counts(client) == before
    yes = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "wapang.cli", "db", "restore", "--yes", str(taken.data)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert yes.returncode == 0, yes.stdout + yes.stderr
    assert (await counts(client))["orders"] == taken.manifest.row_counts["orders"] == 1


def command_env(settings: Settings) -> dict[str, str]:
    values = {
        "ENV": "test",
        "DB_DIALECT": settings.DB_DIALECT.value,
        "DB_DATABASE": str(settings.DB_DATABASE),
        "BACKUP_DIR": str(settings.BACKUP_DIR),
        "ACCESS_TOKEN_SECRET": settings.access_secret,
        "REFRESH_TOKEN_SECRET": settings.refresh_secret,
    }
    if settings.DB_DIALECT is Dialect.MYSQL:
        values |= {
            "DB_HOST": str(settings.DB_HOST),
            "DB_PORT": str(settings.DB_PORT),
            "DB_USER": str(settings.DB_USER),
            "DB_PASSWORD": settings.DB_PASSWORD.get_secret_value(),
        }
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **values}


def test_manifest_round_trips(tmp_path: Path) -> None:
    manifest = Manifest(
        file="wapang-20261205T030000Z.sql.gz",
        created_at="2026-12-05T03:00:00+00:00",
        dialect="mysql",
        database="db:3306/wapang",
        sha256="0" * 64,
        size_bytes=10,
        schema_revision="5d2c8e1f4a7b",
        row_counts={"orders": 2},
        release_tag=None,
    )
    manifest.write(tmp_path / "m.json")
    assert Manifest.read(tmp_path / "m.json") == manifest
    assert stat.S_IMODE((tmp_path / "m.json").stat().st_mode) == 0o600


MYSQLDUMP_STYLE = b"""CREATE TABLE `alembic_version` (
CREATE TABLE `t` (
CREATE TABLE `empty` (
INSERT INTO `alembic_version` VALUES ('5d2c8e1f4a7b');
INSERT INTO `t` VALUES (1,'x),(y'),(2,'it\\'s),'),(3,NULL);
INSERT INTO `t` VALUES (4,'a\\nb');
"""
MARIADB_DUMP_STYLE = b"""CREATE TABLE `alembic_version` (
CREATE TABLE `t` (
CREATE TABLE `empty` (
INSERT INTO `alembic_version` VALUES
('5d2c8e1f4a7b');
INSERT INTO `t` VALUES
(1,'x),(y'),
(2,'it\\'s),'),
(3,NULL);
INSERT INTO `t` VALUES
(4,'a\\nb');
"""


@pytest.mark.parametrize("dump", [MYSQLDUMP_STYLE, MARIADB_DUMP_STYLE], ids=["mysql", "mariadb"])
def test_rows_are_counted_in_both_dump_styles(dump: bytes, tmp_path: Path) -> None:
    """Quoted "),(" and a string ending in ")," are data, not row boundaries."""
    with gzip.GzipFile(tmp_path / "out.gz", "wb") as out:
        revision, counts = copy_dump(io.BytesIO(dump), out)
    assert revision == "5d2c8e1f4a7b"
    assert counts == {"alembic_version": 1, "empty": 0, "t": 4}
    assert gzip.decompress((tmp_path / "out.gz").read_bytes()) == dump


@pytest.mark.parametrize("backend", ["mariadb"], indirect=True)
async def test_a_user_without_the_scratch_grant_is_told_the_grant(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    """The selfhost stack's user owns one database only: the drill names the GRANT it needs."""
    settings = backup_settings(client, tmp_path / "backups")
    taken = await asyncio.to_thread(backup, settings)
    user, password = f"u{secrets.token_hex(4)}", secrets.token_hex(12)
    database = settings.DB_DATABASE
    grants = [
        f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'",
        f"GRANT ALL ON `{database}`.* TO '{user}'@'%'",
    ]
    for statement in grants:
        await run_sql(client, statement)
    try:
        limited = settings.model_copy(update={"DB_USER": user, "DB_PASSWORD": SecretStr(password)})
        with pytest.raises(RestoreError) as refused:
            await asyncio.to_thread(check, limited, taken.data)
        assert f"GRANT ALL ON `{database}_restore_check`.* TO '{user}'@'%'" in str(refused.value)
    finally:
        await run_sql(client, f"DROP USER '{user}'@'%'")


async def run_sql(http: httpx.AsyncClient, statement: str) -> None:
    await execute(http, text(statement))
