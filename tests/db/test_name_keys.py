"""Migration 8b1f3c5d7e90 on both backends: existing stores and users get their keys, and names the
old rules let in twice (SQLite's NOCASE folds ASCII only, MariaDB's UCA keeps "ß" apart from
"ss") keep their stores: the oldest gets the key, the migration applies, and it reverts."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.api.conftest import SERVED_BACKENDS, server_env
from tests.databases import mariadb_available, mariadb_database, mariadb_settings
from tests.requirements import require_available
from wapang.config import Settings
from wapang.db.migrate import downgrade, upgrade
from wapang.db.restore import sync_url

BEFORE = "7e4a1c9b2d30"
# Letter case alone, in and out of ASCII, and a full-width name stored before NFKC was applied.
NAMES = ["Café", "CAFÉ", "Straße", "STRASSE", "ＣＡＦＥ", "가게"]


@pytest.fixture(params=SERVED_BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    with ExitStack() as stack:
        if request.param == "sqlite":
            yield Settings.load(env_file=None, **server_env("sqlite", tmp_path, ""))
            return
        require_available(mariadb_available(), "MariaDB on 127.0.0.1:3306")
        yield mariadb_settings(stack.enter_context(mariadb_database()))


def _stores(engine: sa.Engine) -> list[tuple[str, str | None]]:
    with engine.connect() as connection:
        query = "SELECT store_name, store_name_key FROM stores ORDER BY created_at"
        return [tuple(row) for row in connection.execute(sa.text(query))]


def test_existing_stores_get_their_keys_and_old_duplicates_keep_their_stores(
    settings: Settings,
) -> None:
    upgrade(settings, BEFORE)
    engine = sa.create_engine(sync_url(settings, settings.DB_DATABASE))
    inserted = []
    for number, name in enumerate(NAMES):
        row = {
            "id": f"u{number}",
            "name": name,
            "email": f"{name}@x.com",
            "phone": f"010-0000-{number:04}",
            "at": datetime(2026, 12, 1) + timedelta(minutes=number),
        }
        with contextlib.suppress(sa.exc.IntegrityError), engine.begin() as connection:
            connection.execute(_USER, row)
            connection.execute(_STORE, row)
            inserted.append(name)
    # The old rules: SQLite's NOCASE lets "CAFÉ" in beside "Café", MariaDB's UCA refuses it.
    assert ("CAFÉ" in inserted) is (settings.DB_DIALECT.value == "sqlite")

    try:
        upgrade(settings)
        stores = _stores(engine)
        with engine.connect() as connection:
            users = connection.execute(sa.text("SELECT email, email_key FROM users")).all()
        downgrade(settings, BEFORE)
        with engine.connect() as connection:
            columns = sa.inspect(connection).get_columns("stores")
    finally:
        engine.dispose()

    expected = [
        ("Café", "café"),
        ("CAFÉ", None),
        ("Straße", "strasse"),
        ("STRASSE", None),
        ("ＣＡＦＥ", "cafe"),
        ("가게", "가게"),
    ]
    assert stores == [store for store in expected if store[0] in inserted]
    # Users and stores with the same address, so "CAFÉ@x.com" keeps its row without a key too.
    assert sorted(users) == sorted(
        (f"{name}@x.com", f"{key}@x.com" if key else None) for name, key in stores
    )
    assert "store_name_key" not in {column["name"] for column in columns}


_USER = sa.text(
    "INSERT INTO users (id, email, hashed_password, created_at, token_version)"
    " VALUES (:id, :email, 'h', :at, 0)"
)
_STORE = sa.text(
    "INSERT INTO stores (id, owner_id, store_name, address, email, phone_number, delivery_fee,"
    " created_at) VALUES (:id, :id, :name, 'a', :email, :phone, 0, :at)"
)
