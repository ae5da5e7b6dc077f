"""store name keys

Store names compared by one key on both backends (`wapang.db.base.name_key`: NFKC and Unicode
case folding), in a column of its own with its own unique key, compared byte for byte. Before,
SQLite's NOCASE folded ASCII letters only ("Café" and "CAFÉ" were two stores) and MariaDB's UCA
collation had rules of its own ("Straße" and "STRASSE" were two stores there).

The expand step of a blue/green change: the column is nullable (the release still serving
inserts stores without it, and its old unique key `uq_stores_store_name` still guards those
rows), every existing row is backfilled. A later release backfills the rows the old release
wrote during the switch, makes the column NOT NULL and drops `uq_stores_store_name`.

Revision ID: 8b1f3c5d7e90
Revises: 7e4a1c9b2d30
Create Date: 2026-12-05 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from wapang.db.base import NAME_KEY_MAX_LENGTH, name_key

revision: str = "8b1f3c5d7e90"
down_revision: str | None = "7e4a1c9b2d30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Byte for byte without padding (a key with a trailing space is another key): MariaDB, MySQL 8.
EXACT = ("utf8mb4_nopad_bin", "utf8mb4_0900_bin")
BACKFILL_BATCH = 500


def upgrade() -> None:
    op.add_column("stores", sa.Column("store_name_key", _key_type(), nullable=True))
    _backfill()
    op.create_index("uq_stores_store_name_key", "stores", ["store_name_key"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_stores_store_name_key", "stores")
    op.drop_column("stores", "store_name_key")


def _key_type() -> sa.types.TypeEngine[str]:
    if op.get_context().dialect.name != "mysql":
        return sa.String(NAME_KEY_MAX_LENGTH)
    return mysql.VARCHAR(NAME_KEY_MAX_LENGTH, charset="utf8mb4", collation=_first_known(EXACT))


def _backfill() -> None:
    """Keys computed here, by the rule the app uses: SQL has no NFKC or case folding. Names the
    old rules let in twice ("Café" and "CAFÉ" on SQLite) keep their stores: the oldest gets
    the key, the others none (their old unique key still guards them) until they are renamed."""
    if op.get_context().as_sql:
        return  # recorded, not run (`wapang db check-migrations`)
    connection = op.get_bind()
    stores = sa.table(
        "stores", sa.column("id"), sa.column("store_name"), sa.column("created_at")
    )
    rows = connection.execute(
        sa.select(stores.c.id, stores.c.store_name).order_by(stores.c.created_at, stores.c.id)
    ).all()
    keyed: dict[str, str] = {}
    for row in rows:
        keyed.setdefault(name_key(row.store_name), row.id)
    updates = [{"row_id": row_id, "key": key} for key, row_id in keyed.items()]
    statement = sa.text("UPDATE stores SET store_name_key = :key WHERE id = :row_id")
    for start in range(0, len(updates), BACKFILL_BATCH):
        connection.execute(statement, updates[start : start + BACKFILL_BATCH])


def _first_known(collations: tuple[str, ...]) -> str:
    if op.get_context().as_sql:
        return collations[0]
    connection = op.get_bind()
    for name in collations:
        try:
            connection.execute(sa.text(f"SELECT _utf8mb4'' COLLATE {name}"))
        except sa.exc.DBAPIError:
            continue
        return name
    raise RuntimeError(f"the MySQL server knows none of the collations {', '.join(collations)}")
