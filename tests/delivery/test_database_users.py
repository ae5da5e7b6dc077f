"""The selfhost database's two users (compose.yaml's db service; security review finding 10): the
migration user runs `wapang db upgrade` (DDL), the app's own user gets SELECT, INSERT, UPDATE and
DELETE only, from the very init script compose gives the MySQL image. On the MariaDB server."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pymysql
import pytest
import sqlalchemy.exc
import yaml

from tests.databases import (
    MARIADB_HOST,
    MARIADB_PASSWORD,
    MARIADB_PORT,
    MARIADB_USER,
    mariadb_available,
    mariadb_database,
    mariadb_settings,
)
from tests.examples import TEST_SECRETS
from tests.requirements import require_available
from tests.servers import wapang_server
from wapang.db.migrate import downgrade, upgrade

pytestmark = pytest.mark.mariadb

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose.yaml"


def _admin() -> pymysql.connections.Connection:
    return pymysql.connect(
        host=MARIADB_HOST, port=MARIADB_PORT, user=MARIADB_USER, password=MARIADB_PASSWORD,
        autocommit=True,
    )  # fmt: skip


def _init_script() -> str:
    """compose.yaml's db-app-user config, as the container sees it ($$ is compose's escape)."""
    content: str = yaml.safe_load(COMPOSE.read_text())["configs"]["db-app-user"]["content"]
    return content.replace("$$", "$")


def _run_init_script(database: str, migration_user: str, app_user: str, password: str) -> None:
    """Source it the way the MySQL image's entrypoint does, with its docker_process_sql (SQL as
    the server's administrator)."""
    client = shutil.which("mariadb") or shutil.which("mysql")
    require_available(client is not None, "the mariadb client")
    admin = f'"{client}" -h {MARIADB_HOST} -P {MARIADB_PORT} -u {MARIADB_USER}'
    script = f'docker_process_sql() {{ {admin} "$@"; }}\n. "$1"'
    environment = {
        "PATH": os.environ["PATH"],
        "MYSQL_PWD": MARIADB_PASSWORD,
        "MYSQL_DATABASE": database,
        "MYSQL_USER": migration_user,
        "WAPANG_APP_USER": app_user,
        "WAPANG_APP_PASSWORD": password,
    }
    with tempfile.TemporaryDirectory() as directory:
        init = Path(directory) / "10-wapang-app-user.sh"
        init.write_text(_init_script())
        subprocess.run(
            ["bash", "-c", script, "init", str(init)], env=environment, check=True, timeout=30
        )


@pytest.fixture
def users() -> Iterator[tuple[str, str, str, str]]:
    """(database, migration user, app user, password): the migration user as the image makes
    MYSQL_USER (every right on the database), the app user by compose's init script."""
    require_available(mariadb_available(), "MariaDB on 127.0.0.1:3306")
    suffix = secrets.token_hex(4)
    migration_user, app_user = f"ddl_{suffix}", f"app_{suffix}"
    password = secrets.token_urlsafe(12)
    with mariadb_database() as database, _admin() as admin, admin.cursor() as cursor:
        cursor.execute(f"CREATE USER '{migration_user}'@'%' IDENTIFIED BY '{password}'")
        cursor.execute(f"GRANT ALL ON `{database}`.* TO '{migration_user}'@'%'")
        try:
            _run_init_script(database, migration_user, app_user, password)
            yield database, migration_user, app_user, password
        finally:
            for user in (migration_user, app_user):
                cursor.execute(f"DROP USER IF EXISTS '{user}'@'%'")


def test_the_app_user_can_serve_but_not_change_the_schema(
    users: tuple[str, str, str, str], tmp_path: Path
) -> None:
    database, migration_user, app_user, password = users
    settings = mariadb_settings(
        database, DB_USER=app_user, DB_PASSWORD=password,
        DB_MIGRATION_USER=migration_user, DB_MIGRATION_PASSWORD=password,
    )  # fmt: skip
    upgrade(settings)  # as the migration user: the app user could not create a table

    with pytest.raises(sqlalchemy.exc.OperationalError, match="1142"):  # DROP denied
        downgrade(mariadb_settings(database, DB_USER=app_user, DB_PASSWORD=password), "base")

    app = pymysql.connect(
        host=MARIADB_HOST, port=MARIADB_PORT, user=app_user, password=password, database=database
    )
    with app, app.cursor() as cursor:
        for statement in (
            "DROP TABLE users",
            "CREATE TABLE t (id INT)",
            "ALTER TABLE users ADD x INT",
        ):
            with pytest.raises(pymysql.err.OperationalError) as denied:
                cursor.execute(statement)
            assert denied.value.args[0] == 1142, statement
        cursor.execute("SELECT COUNT(*) FROM users")

    # The app itself, as that user, signs a user up (INSERT) and reads it back (SELECT).
    env = {
        "ENV": "test", "DB_DIALECT": "mysql", "DB_HOST": MARIADB_HOST, "DB_PORT": MARIADB_PORT,
        "DB_USER": app_user, "DB_PASSWORD": password, "DB_DATABASE": database, **TEST_SECRETS,
    }  # fmt: skip
    with wapang_server(tmp_path, **env) as server:
        account = {"email": f"u{secrets.token_hex(3)}@example.com", "password": "waffle-pass1"}
        assert httpx.post(f"{server.base_url}/api/users", json=account).status_code == 201
        signed_in = httpx.post(f"{server.base_url}/api/auth/tokens", json=account)
        assert signed_in.status_code == 200


def test_without_a_migration_user_the_app_user_keeps_every_right(
    users: tuple[str, str, str, str],
) -> None:
    """RDS hosts and existing selfhost ones: DB_USER created as MYSQL_USER, no second user."""
    database, migration_user, _, password = users
    _run_init_script(database, migration_user, migration_user, password)  # a no-op: same user
    with _admin() as admin, admin.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM mysql.user WHERE User = '{migration_user}'")
        assert cursor.fetchone() == (1,)
    upgrade(mariadb_settings(database, DB_USER=migration_user, DB_PASSWORD=password))
