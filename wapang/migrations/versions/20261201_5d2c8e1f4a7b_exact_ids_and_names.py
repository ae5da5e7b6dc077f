"""exact ids and names on MySQL

Ids compared byte for byte without padding (an id with a trailing space or NUL is another id),
unique names compared by the Unicode Collation Algorithm of this century (different emoji are
different names; letter case alone is not a difference), and the stores' unique keys in the
contract's order of precedence. SQLite already compares ids byte for byte: nothing to do there.

Revision ID: 5d2c8e1f4a7b
Revises: b3af9fb25bce
Create Date: 2026-12-01 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5d2c8e1f4a7b"
down_revision: str | None = "b3af9fb25bce"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The first collation the server knows wins: MariaDB's names, then MySQL 8's.
EXACT = ("utf8mb4_nopad_bin", "utf8mb4_0900_bin")
CASE_INSENSITIVE = (
    "utf8mb4_uca1400_nopad_as_ci",  # MariaDB >= 10.10: UCA 14, accents count, case does not
    "utf8mb4_0900_as_ci",  # MySQL 8: UCA 9, the same rule
    "utf8mb4_unicode_520_nopad_ci",  # older MariaDB: UCA 5.2 still tells emoji apart
)
PREVIOUS = "utf8mb4_unicode_ci"

ID_COLUMNS = {
    "users": ("id",),
    "stores": ("id", "owner_id"),
    "items": ("id", "store_id"),
    "reviews": ("id", "item_id", "writer_id"),
    "orders": ("id", "buyer_id"),
    "order_lines": ("order_id", "item_id", "store_id"),
    "cart_lines": ("user_id", "item_id"),
}
# (table, column, referenced table): dropped around the change, which MySQL refuses otherwise.
FOREIGN_KEYS = (
    ("stores", "owner_id", "users"),
    ("items", "store_id", "stores"),
    ("reviews", "item_id", "items"),
    ("reviews", "writer_id", "users"),
    ("orders", "buyer_id", "users"),
    ("order_lines", "order_id", "orders"),
    ("cart_lines", "user_id", "users"),
    ("cart_lines", "item_id", "items"),
)
EXACT_TEXT = {"stores": {"phone_number": 13}, "blocked_tokens": {"jti": 64}}
UNIQUE_NAMES = {"users": {"email": 254}, "stores": {"store_name": 20, "email": 254}}
# InnoDB checks unique keys in the order they were created, and a request that loses a race
# is answered by the first one it breaks: a second store of one owner is ERR_008 before any
# clash of its data (ERR_009), as the contract orders them.
STORE_DATA_KEYS = ("store_name", "email", "phone_number")


def upgrade() -> None:
    if op.get_bind().dialect.name != "mysql":
        return
    exact, case_insensitive = _first_known(EXACT), _first_known(CASE_INSENSITIVE)
    _alter(exact, case_insensitive)
    for column in STORE_DATA_KEYS:
        op.drop_constraint(f"uq_stores_{column}", "stores", type_="unique")
    for column in STORE_DATA_KEYS:
        op.create_unique_constraint(f"uq_stores_{column}", "stores", [column])


def downgrade() -> None:
    if op.get_bind().dialect.name != "mysql":
        return
    _alter(PREVIOUS, PREVIOUS)


def _alter(exact: str, case_insensitive: str) -> None:
    # Referencing and referenced columns change together, between dropping and restoring
    # the foreign keys (which are then checked again against every row).
    for table, column, referenced in FOREIGN_KEYS:
        op.drop_constraint(_foreign_key(table, column, referenced), table, type_="foreignkey")
    for table, columns in ID_COLUMNS.items():
        _modify(table, dict.fromkeys(columns, 36), exact)
    for table, lengths in EXACT_TEXT.items():
        _modify(table, lengths, exact)
    for table, lengths in UNIQUE_NAMES.items():
        _modify(table, lengths, case_insensitive)
    for table, column, referenced in FOREIGN_KEYS:
        op.create_foreign_key(
            _foreign_key(table, column, referenced), table, referenced, [column], ["id"]
        )


def _foreign_key(table: str, column: str, referenced: str) -> str:
    return f"fk_{table}_{column}_{referenced}"


def _modify(table: str, lengths: dict[str, int], collation: str) -> None:
    changes = ", ".join(
        f"MODIFY `{column}` VARCHAR({length}) CHARACTER SET utf8mb4 COLLATE {collation} NOT NULL"
        for column, length in lengths.items()
    )
    op.execute(f"ALTER TABLE `{table}` {changes}")


def _first_known(collations: tuple[str, ...]) -> str:
    connection = op.get_bind()
    for name in collations:
        try:
            connection.execute(sa.text(f"SELECT _utf8mb4'' COLLATE {name}"))
        except sa.exc.DBAPIError:
            continue
        return name
    raise RuntimeError(f"the MySQL server knows none of the collations {', '.join(collations)}")
