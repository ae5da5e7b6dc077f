"""Test databases: a fresh SQLite file, or a fresh database on the MariaDB server, per run."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pymysql
from sqlalchemy import bindparam, func, select

from tests.examples import TEST_SECRETS
from wapang.config import Settings
from wapang.db.statements import Statement

MARIADB_HOST = os.environ.get("WAPANG_TEST_MYSQL_HOST", "127.0.0.1")
MARIADB_PORT = int(os.environ.get("WAPANG_TEST_MYSQL_PORT", "3306"))
MARIADB_USER = os.environ.get("WAPANG_TEST_MYSQL_USER", "root")
MARIADB_PASSWORD = os.environ.get("WAPANG_TEST_MYSQL_PASSWORD", "")


def mariadb_available() -> bool:
    try:
        admin_connection().close()
    except pymysql.MySQLError:
        return False
    return True


def admin_connection() -> pymysql.connections.Connection[Any]:
    return pymysql.connect(
        host=MARIADB_HOST,
        port=MARIADB_PORT,
        user=MARIADB_USER,
        password=MARIADB_PASSWORD,
        connect_timeout=3,
        autocommit=True,
    )


def sqlite_settings(directory: Path, **overrides: object) -> Settings:
    return Settings.load(
        env_file=None,
        ENV="test",
        DB_DIALECT="sqlite",
        DB_DATABASE=str(directory / "wapang-test.db"),
        **TEST_SECRETS,
        **overrides,
    )


def mariadb_settings(database: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "ENV": "test",
        "DB_DIALECT": "mysql",
        "DB_HOST": MARIADB_HOST,
        "DB_PORT": MARIADB_PORT,
        "DB_USER": MARIADB_USER,
        "DB_PASSWORD": MARIADB_PASSWORD,
        "DB_DATABASE": database,
        "DB_POOL_SIZE": 30,
        **TEST_SECRETS,
    }
    values.update(overrides)
    return Settings.load(env_file=None, **values)


@contextmanager
def mariadb_database() -> Iterator[str]:
    """A database of its own for this run, dropped afterwards."""
    name = f"wapang_test_{uuid.uuid4().hex[:12]}"
    connection = admin_connection()
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
        yield name
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        connection.close()


# What the read pool's and the write session's tests do to a MariaDB connection: ask which one
# a statement ran on, keep it busy, and close it from the server's side.
CONNECTION_ID = Statement(select(func.connection_id().label("id")))
SLEEP = Statement(select(func.sleep(bindparam("seconds")).label("slept")))


def kill_connection(connection_id: int) -> None:
    admin = admin_connection()
    try:
        with admin.cursor() as cursor:
            cursor.execute("KILL CONNECTION %s", (connection_id,))
    finally:
        admin.close()
