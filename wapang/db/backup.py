"""`wapang db backup`: a consistent logical backup of the configured database, gzip-compressed,
with a sha256 checksum and a manifest, files 0600 in BACKUP_DIR, pruned by age, optionally copied
off the host to S3-compatible storage.

MySQL/MariaDB is dumped by the tool made for it (`mariadb-dump`, or `mysqldump`) in one
transaction (`--single-transaction`: a consistent snapshot without locking the tables); SQLite
by its online backup API. The manifest's row counts and schema revision are read from that same
snapshot (the dump's own statements, the SQLite copy), so a restore can be checked against them
exactly even while the site takes writes during the backup.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from wapang.config import Dialect, Settings

MANIFEST_FORMAT = 1
DUMP_TOOLS = ("mariadb-dump", "mysqldump")
CLIENT_TOOLS = ("mariadb", "mysql")
_CREATE_TABLE = re.compile(r"^CREATE TABLE `((?:[^`]|``)+)`")
_INSERT = re.compile(r"^INSERT INTO `((?:[^`]|``)+)` VALUES ?")
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'")  # mysqldump escapes quotes and newlines in strings
_REVISION = re.compile(r"\('([0-9A-Za-z_]+)'\)")


class BackupError(Exception):
    """The backup (or its off-host copy) failed; the message says why and what to do."""


@dataclass(frozen=True)
class Manifest:
    """What a backup holds, beside it as NAME.json (the restore check and the alerts read it)."""

    file: str
    created_at: str  # ISO 8601, UTC
    dialect: str
    database: str
    sha256: str
    size_bytes: int
    schema_revision: str | None
    row_counts: dict[str, int]
    release_tag: str | None
    format: int = MANIFEST_FORMAT
    tool: str = ""

    @property
    def created(self) -> datetime:
        return datetime.fromisoformat(self.created_at)

    def write(self, path: Path) -> None:
        write_private(path, (json.dumps(asdict(self), indent=2) + "\n").encode())

    @classmethod
    def read(cls, path: Path) -> Manifest:
        return cls(**json.loads(path.read_text()))


@dataclass(frozen=True)
class Backup:
    data: Path
    manifest_path: Path
    manifest: Manifest
    removed: list[str] = field(default_factory=list)  # pruned by retention
    uploaded: list[str] = field(default_factory=list)  # off-host object keys


def manifest_path_of(data: Path) -> Path:
    """wapang-20261205T030000Z.sql.gz → wapang-20261205T030000Z.json"""
    return data.with_name(data.name.split(".", 1)[0] + ".json")


def write_private(path: Path, content: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
    path.chmod(0o600)  # an existing file keeps its mode through O_CREAT


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_tool(names: Iterable[str], package: str = "mariadb-client") -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise BackupError(
        f"none of {', '.join(names)} is installed: install Debian's {package} "
        f"(apt-get install {package}); the app image has it"
    )


@contextmanager
def mysql_client_options(settings: Settings) -> Iterator[list[str]]:
    """Connection options for the MariaDB/MySQL command-line tools; the password goes through
    a private option file (never the command line, which `ps` shows)."""
    with tempfile.TemporaryDirectory(prefix="wapang-db-") as private:
        options = Path(private) / "client.cnf"
        password = settings.DB_PASSWORD.get_secret_value()
        write_private(options, f"[client]\npassword={password}\n".encode())
        yield [
            f"--defaults-extra-file={options}",  # must come first
            f"--host={settings.DB_HOST}",
            f"--port={settings.DB_PORT}",
            f"--user={settings.DB_USER}",
            "--default-character-set=utf8mb4",
        ]


# ---- taking a backup -------------------------------------------------------------------------


def backup(
    settings: Settings, release_tag: str | None = None, now: datetime | None = None
) -> Backup:
    """Write one backup into BACKUP_DIR, prune by retention, copy it off-host if configured."""
    now = now or datetime.now(UTC)
    directory = settings.BACKUP_DIR
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    stem = _free_stem(directory, now)
    if settings.DB_DIALECT is Dialect.SQLITE:
        data = directory / f"{stem}.sqlite.gz"
        revision, counts, tool = _sqlite_backup(settings, data)
    else:
        data = directory / f"{stem}.sql.gz"
        revision, counts, tool = _mysql_backup(settings, data)
    manifest = Manifest(
        file=data.name,
        created_at=now.isoformat(timespec="seconds"),
        dialect=settings.DB_DIALECT.value,
        database=_database_label(settings),
        sha256=sha256_of(data),
        size_bytes=data.stat().st_size,
        schema_revision=revision,
        row_counts=counts,
        release_tag=release_tag or None,
        tool=tool,
    )
    # sha256sum -c reads this one; the manifest holds the same digest.
    checksum_line = f"{manifest.sha256}  {data.name}\n".encode()
    write_private(data.with_name(data.name + ".sha256"), checksum_line)
    manifest_path = manifest_path_of(data)
    manifest.write(manifest_path)  # last: a backup without its manifest is never complete
    removed = prune(directory, settings.BACKUP_KEEP_DAILY, settings.BACKUP_KEEP_WEEKLY)
    uploaded: list[str] = []
    if settings.BACKUP_S3_BUCKET:
        from wapang.db.offsite import upload

        uploaded = upload(settings, [data, manifest_path])
    return Backup(data, manifest_path, manifest, removed, uploaded)


def _free_stem(directory: Path, now: datetime) -> str:
    stem = f"wapang-{now.strftime('%Y%m%dT%H%M%SZ')}"
    candidate, n = stem, 1
    while (directory / f"{candidate}.json").exists():
        n += 1
        candidate = f"{stem}-{n}"
    return candidate


def _database_label(settings: Settings) -> str:
    if settings.DB_DIALECT is Dialect.SQLITE:
        return str(settings.DB_DATABASE)
    return f"{settings.DB_HOST}:{settings.DB_PORT}/{settings.DB_DATABASE}"


def _sqlite_backup(settings: Settings, data: Path) -> tuple[str | None, dict[str, int], str]:
    source_path = Path(str(settings.DB_DATABASE))
    if not source_path.is_file():
        raise BackupError(f"the SQLite database {source_path} does not exist")
    with tempfile.TemporaryDirectory(dir=data.parent, prefix=".partial-") as work:
        copy = Path(work) / "copy.sqlite"
        source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
        target = sqlite3.connect(copy)
        try:
            source.backup(target)  # the online backup API: a consistent copy while others write
            revision, counts = sqlite_contents(target)
        finally:
            target.close()
            source.close()
        _gzip_into(copy, data)
    return revision, counts, f"sqlite3 {sqlite3.sqlite_version} online backup"


def sqlite_contents(connection: sqlite3.Connection) -> tuple[str | None, dict[str, int]]:
    tables = [
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    counts = {
        name: int(connection.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0])  # noqa: S608 (names from sqlite_master)
        for name in tables
    }
    revision = None
    if "alembic_version" in tables:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        revision = row[0] if row else None
    return revision, counts


def _gzip_into(source: Path, data: Path) -> None:
    partial = data.with_name(f".{data.name}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with (
        os.fdopen(descriptor, "wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb") as out,
        source.open("rb") as handle,
    ):
        shutil.copyfileobj(handle, out, 1 << 20)
    partial.replace(data)


def _mysql_backup(settings: Settings, data: Path) -> tuple[str | None, dict[str, int], str]:
    tool = find_tool(DUMP_TOOLS)
    partial = data.with_name(f".{data.name}.partial")
    with mysql_client_options(settings) as options:
        command = [
            tool,
            *options,
            "--single-transaction",  # one consistent snapshot, no table locks (InnoDB)
            "--quick",  # row by row, not the whole table in memory
            "--hex-blob",
            "--no-tablespaces",  # needs no PROCESS privilege
            str(settings.DB_DATABASE),
        ]
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with (
                os.fdopen(descriptor, "wb") as raw,
                gzip.GzipFile(fileobj=raw, mode="wb") as out,
                subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as dump,
            ):
                assert dump.stdout is not None
                assert dump.stderr is not None
                revision, counts = copy_dump(dump.stdout, out)
                errors = dump.stderr.read().decode(errors="replace").strip()
            if dump.returncode != 0:
                raise BackupError(f"{Path(tool).name} failed (exit {dump.returncode}): {errors}")
            partial.replace(data)
        finally:
            partial.unlink(missing_ok=True)
    version = subprocess.run([tool, "--version"], capture_output=True, text=True, check=False)
    return revision, counts, version.stdout.strip() or Path(tool).name


def copy_dump(dump: IO[bytes], out: gzip.GzipFile) -> tuple[str | None, dict[str, int]]:
    """Copy the dump into the gzip stream, reading its tables, row counts and revision.

    An extended INSERT holds many rows: mysqldump writes it on one line, mariadb-dump one row
    a line. Strings never span lines (both escape newlines), so with the quoted strings taken
    out, every row ends in "),(" or at a line's end in ")," or ");"."""
    counts: dict[str, int] = {}
    revision = None
    table: str | None = None  # the table of the INSERT statement being read
    for line in dump:
        out.write(line)
        if table is None:
            if line.startswith(b"CREATE TABLE"):
                created = _CREATE_TABLE.match(line.decode(errors="replace"))
                if created:
                    counts.setdefault(created[1].replace("``", "`"), 0)
                continue
            if not line.startswith(b"INSERT INTO"):
                continue
            inserted = _INSERT.match(line.decode(errors="replace"))
            if inserted is None:
                continue
            table = inserted[1].replace("``", "`")
            rows = line.decode(errors="replace")[inserted.end() :]
        else:
            rows = line.decode(errors="replace")
        if table == "alembic_version" and revision is None:
            found = _REVISION.search(rows)
            revision = found[1] if found else None
        values = _QUOTED.sub("''", rows).rstrip()
        counts[table] = counts.get(table, 0) + values.count("),(") + values.endswith(("),", ");"))
        if values.endswith(";"):
            table = None
    return revision, dict(sorted(counts.items()))


# ---- retention -------------------------------------------------------------------------------


def manifests(directory: Path) -> list[tuple[Path, Manifest]]:
    """The complete backups in `directory`, oldest first."""
    found = []
    for path in directory.glob("wapang-*.json"):
        try:
            found.append((path, Manifest.read(path)))
        except (ValueError, TypeError, KeyError):
            continue  # not one of ours
    return sorted(found, key=lambda item: item[1].created)


def kept(created: list[datetime], keep_daily: int, keep_weekly: int) -> set[datetime]:
    """The newest backup of each of the last `keep_daily` days that have one, and of each of
    the last `keep_weekly` ISO weeks that have one (the newest backup is always kept)."""
    newest_of_day: dict[object, datetime] = {}
    newest_of_week: dict[object, datetime] = {}
    for moment in sorted(created):
        newest_of_day[moment.date()] = moment
        newest_of_week[moment.isocalendar()[:2]] = moment
    days = sorted(newest_of_day, reverse=True)[:keep_daily]  # type: ignore[type-var]
    weeks = sorted(newest_of_week, reverse=True)[:keep_weekly]  # type: ignore[type-var]
    return {newest_of_day[d] for d in days} | {newest_of_week[w] for w in weeks}


def prune(directory: Path, keep_daily: int, keep_weekly: int) -> list[str]:
    """Remove the backups retention does not keep; returns the removed data files' names."""
    found = manifests(directory)
    keep = kept([m.created for _, m in found], keep_daily, keep_weekly)
    removed = []
    for path, manifest in found:
        if manifest.created in keep:
            continue
        data = directory / manifest.file
        for leftover in (data, data.with_name(data.name + ".sha256"), path):
            leftover.unlink(missing_ok=True)
        removed.append(manifest.file)
    return removed


def latest(directory: Path) -> tuple[Path, Manifest] | None:
    found = manifests(directory)
    return found[-1] if found else None


def age(manifest: Manifest, now: datetime | None = None) -> timedelta:
    return (now or datetime.now(UTC)) - manifest.created
