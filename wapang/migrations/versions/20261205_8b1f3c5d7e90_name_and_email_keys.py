"""name and e-mail keys

Store names and e-mail addresses (of users and of stores) compared by one key on both backends
(`wapang.db.base.name_key`: NFKC and Unicode case folding), in a column of its own with its own
unique key, compared byte for byte. Before, SQLite's NOCASE folded ASCII letters only ("Café"
and "CAFÉ", "café@x.com" and "CAFÉ@x.com" were two) and MariaDB's UCA collation had rules of
its own ("Straße" and "STRASSE" were two there, one on neither after this).

The expand step of a blue/green change: the columns are nullable (the release still serving
writes rows without them, and its old unique keys still guard those rows), every existing row
is backfilled. A later release backfills the rows the old release wrote during the switch,
makes the columns NOT NULL and drops the old unique keys of the text itself.

Revision ID: 8b1f3c5d7e90
Revises: 7e4a1c9b2d30
Create Date: 2026-12-05 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from wapang.db.base import EMAIL_KEY_MAX_LENGTH, NAME_KEY_MAX_LENGTH, name_key

revision: str = "8b1f3c5d7e90"
down_revision: str | None = "7e4a1c9b2d30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Byte for byte without padding (a key with a trailing space is another key): MariaDB, MySQL 8.
EXACT = ("utf8mb4_nopad_bin", "utf8mb4_0900_bin")
BACKFILL_BATCH = 500


# (table, text column, its key column, the key's length)
KEYS = (
    ("stores", "store_name", "store_name_key", NAME_KEY_MAX_LENGTH),
    ("stores", "email", "email_key", EMAIL_KEY_MAX_LENGTH),
    ("users", "email", "email_key", EMAIL_KEY_MAX_LENGTH),
)


def upgrade() -> None:
    for table, column, key, length in KEYS:
        op.add_column(table, sa.Column(key, _key_type(length), nullable=True))
        _backfill(table, column, key)
        op.create_index(f"uq_{table}_{key}", table, [key], unique=True)


def downgrade() -> None:
    for table, _, key, _ in reversed(KEYS):
        op.drop_index(f"uq_{table}_{key}", table)
        op.drop_column(table, key)


def _key_type(length: int) -> sa.types.TypeEngine[str]:
    if op.get_context().dialect.name != "mysql":
        return sa.String(length)
    return mysql.VARCHAR(length, charset="utf8mb4", collation=_first_known(EXACT))


def _backfill(table: str, column: str, key: str) -> None:
    """Keys computed here, by the rule the app uses: SQL has no NFKC or case folding. Values the
    old rules let in twice ("Café" and "CAFÉ" on SQLite) keep their rows: the oldest gets the
    key, the others none (their old unique key still guards them) until they are changed."""
    if op.get_context().as_sql:
        return  # recorded, not run (`wapang db check-migrations`)
    connection = op.get_bind()
    rows = sa.table(table, sa.column("id"), sa.column(column), sa.column("created_at"))
    values = connection.execute(
        sa.select(rows.c.id, rows.c[column]).order_by(rows.c.created_at, rows.c.id)
    ).all()
    keyed: dict[str, str] = {}
    for row_id, value in values:
        keyed.setdefault(name_key(value), row_id)
    updates = [{"row_id": row_id, "key": value} for value, row_id in keyed.items()]
    statement = sa.text(f"UPDATE {table} SET {key} = :key WHERE id = :row_id")
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
