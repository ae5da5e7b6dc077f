"""`wapang db restore FILE` and `wapang db restore --check FILE`.

A backup is refused before anything is touched when its checksum does not match its manifest,
when it is of another database kind, or when its schema revision is not one of this release's
migrations (a newer release wrote it). `--check` restores into a scratch database (a new
MariaDB/MySQL database beside the configured one, or a temporary SQLite file), compares the row
counts with the manifest, runs `alembic current` there and drops the scratch database: the
configured database is never touched.
"""

from __future__ import annotations

import gzip
import io
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import create_engine, func, select, table, text
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import DBAPIError

from wapang.config import Dialect, Settings
from wapang.db.backup import (
    CLIENT_TOOLS,
    Manifest,
    find_tool,
    manifest_path_of,
    mysql_client_options,
    sha256_of,
    sqlite_contents,
)
from wapang.db.engine import database_url
from wapang.db.migrate import alembic_config, upgrade


class RestoreError(Exception):
    """The backup is refused or the restore failed; the message says why."""


@dataclass(frozen=True)
class CheckResult:
    manifest: Manifest
    scratch: str  # where it was restored (and dropped again)
    row_counts: dict[str, int]
    alembic_current: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verified_manifest(settings: Settings, data: Path) -> Manifest:
    """The backup's manifest, once the file, its kind and its schema revision all fit."""
    if not data.is_file():
        raise RestoreError(f"{data} does not exist")
    manifest_path = manifest_path_of(data)
    if not manifest_path.is_file():
        raise RestoreError(f"{data.name} has no manifest ({manifest_path.name} beside it)")
    manifest = Manifest.read(manifest_path)
    actual = sha256_of(data)
    if actual != manifest.sha256:
        raise RestoreError(
            f"checksum mismatch: {data.name} has sha256 {actual}, its manifest says "
            f"{manifest.sha256}; the file is damaged or is not that backup"
        )
    if manifest.dialect != settings.DB_DIALECT.value:
        raise RestoreError(
            f"{data.name} is a {manifest.dialect} backup; the configured database is "
            f"{settings.DB_DIALECT.value}"
        )
    _check_revision(settings, manifest)
    return manifest


def _check_revision(settings: Settings, manifest: Manifest) -> None:
    scripts = ScriptDirectory.from_config(alembic_config(settings))
    heads = ", ".join(scripts.get_heads())
    if manifest.schema_revision is None:
        raise RestoreError(
            f"{manifest.file} has no schema revision (no alembic_version row): it was not taken "
            "from a migrated wapang database"
        )
    try:
        found = scripts.get_revision(manifest.schema_revision)
    except CommandError:
        found = None
    if found is None:
        release = f" (release {manifest.release_tag})" if manifest.release_tag else ""
        raise RestoreError(
            f"schema revision {manifest.schema_revision} of {manifest.file} is not one of this "
            f"release's migrations (head {heads}): a newer release{release} wrote it; restore it "
            "with that release's image"
        )


# ---- into the configured database ------------------------------------------------------------


def restore(settings: Settings, data: Path) -> Manifest:
    """Replace the configured database's contents with the backup, then migrate it to head.
    Dropping and creating tables is DDL: it runs as the migration user when one is configured
    (the app's own user may only read and write rows)."""
    manifest = verified_manifest(settings, data)
    if settings.DB_DIALECT is Dialect.SQLITE:
        _restore_sqlite(data, Path(str(settings.DB_DATABASE)))
    else:
        _drop_all_tables(settings.for_migrations())
        _load_mysql(settings.for_migrations(), data, str(settings.DB_DATABASE))
    upgrade(settings)  # a backup of an older revision: this release's schema again
    return manifest


def _restore_sqlite(data: Path, database: Path) -> None:
    database.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=database.parent, prefix=".restore-") as work:
        copy = _gunzip(data, Path(work) / "restore.sqlite")
        source, target = sqlite3.connect(copy), sqlite3.connect(database)
        try:
            source.backup(target)  # page by page under SQLite's own locking: no torn file
        finally:
            source.close()
            target.close()


def _gunzip(data: Path, target: Path) -> Path:
    with gzip.open(data, "rb") as compressed, target.open("wb") as out:
        shutil.copyfileobj(compressed, out, 1 << 20)
    return target


def sync_url(settings: Settings, database: str | None) -> URL:
    url = database_url(settings)
    if settings.DB_DIALECT is Dialect.SQLITE:
        return url.set(drivername="sqlite", database=database)
    return url.set(drivername="mysql+pymysql", database=database)


def _server_engine(settings: Settings) -> Engine:
    return create_engine(sync_url(settings, None), isolation_level="AUTOCOMMIT")


def _drop_all_tables(settings: Settings) -> None:
    engine = create_engine(sync_url(settings, settings.DB_DATABASE))
    try:
        with engine.begin() as connection:
            names = connection.execute(text("SHOW TABLES")).scalars().all()
            connection.execute(text("SET FOREIGN_KEY_CHECKS = 0"))
            quote = connection.dialect.identifier_preparer.quote
            for name in names:
                connection.execute(text(f"DROP TABLE {quote(name)}"))
            connection.execute(text("SET FOREIGN_KEY_CHECKS = 1"))
    finally:
        engine.dispose()


def _load_mysql(settings: Settings, data: Path, database: str) -> None:
    client = find_tool(CLIENT_TOOLS)
    with mysql_client_options(settings) as options, gzip.open(data, "rb") as dump:
        load = subprocess.Popen(
            [client, *options, "--batch", database],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        assert load.stdin is not None
        try:
            shutil.copyfileobj(dump, load.stdin, 1 << 20)
        except BrokenPipeError:
            pass  # the client stopped at an error: its message follows
        finally:
            load.stdin.close()
        errors = (load.stderr.read() if load.stderr else b"").decode(errors="replace").strip()
        if load.wait() != 0:
            raise RestoreError(f"loading {data.name} into {database} failed: {errors}")


# ---- the restore drill ---------------------------------------------------------------------


def check(settings: Settings, data: Path) -> CheckResult:
    """Restore into a scratch database, compare with the manifest, drop the scratch (as the
    migration user when one is configured: it creates and drops a database)."""
    settings = settings.for_migrations()
    manifest = verified_manifest(settings, data)
    if settings.DB_DIALECT is Dialect.SQLITE:
        with tempfile.TemporaryDirectory(prefix="wapang-restore-check-") as work:
            scratch = _gunzip(data, Path(work) / "scratch.sqlite")
            scratch_db = sqlite3.connect(scratch)
            try:
                _, counts = sqlite_contents(scratch_db)
            finally:
                scratch_db.close()
            current = alembic_current(settings.model_copy(update={"DB_DATABASE": str(scratch)}))
            return _compared(manifest, f"sqlite file {scratch} (removed)", counts, current)
    scratch_name = f"{settings.DB_DATABASE}_restore_check"
    server = _server_engine(settings)
    try:
        try:
            with server.connect() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS `{scratch_name}`"))
                connection.execute(text(f"CREATE DATABASE `{scratch_name}` CHARACTER SET utf8mb4"))
        except DBAPIError as error:
            raise RestoreError(
                f"cannot create the scratch database {scratch_name} ({error.orig}): as root, "
                f"GRANT ALL ON `{scratch_name}`.* TO '{settings.DB_USER}'@'%';"
            ) from None
        try:
            _load_mysql(settings, data, scratch_name)
            counts = _mysql_counts(settings, scratch_name)
            current = alembic_current(settings.model_copy(update={"DB_DATABASE": scratch_name}))
        finally:
            with server.connect() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS `{scratch_name}`"))
    finally:
        server.dispose()
    return _compared(manifest, f"database {scratch_name} (dropped)", counts, current)


def _mysql_counts(settings: Settings, database: str) -> dict[str, int]:
    engine = create_engine(sync_url(settings, database))
    try:
        with engine.connect() as connection:
            names = connection.execute(text("SHOW TABLES")).scalars().all()
            count = select(func.count()).select_from
            return {
                name: int(connection.execute(count(table(name))).scalar_one())
                for name in sorted(names)
            }
    finally:
        engine.dispose()


def alembic_current(settings: Settings) -> str:
    """`alembic current` against that database: the revision it is at, as alembic reads it."""
    config = alembic_config(settings)
    output = io.StringIO()
    config.stdout = output
    command.current(config)
    return output.getvalue().strip()


def _compared(
    manifest: Manifest, scratch: str, counts: dict[str, int], current: str
) -> CheckResult:
    problems = [
        f"table {table}: {counts.get(table, 'missing')} rows restored, the manifest says {rows}"
        for table, rows in manifest.row_counts.items()
        if counts.get(table) != rows
    ]
    extra = sorted(counts.keys() - manifest.row_counts.keys())
    problems += [f"table {name} is not in the manifest" for name in extra]
    if manifest.schema_revision not in current.split():
        problems.append(
            f"alembic current says {current or 'nothing'}; the manifest says "
            f"{manifest.schema_revision}"
        )
    return CheckResult(manifest, scratch, counts, current, problems)
