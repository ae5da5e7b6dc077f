"""idempotent requests

The stored answers of requests sent with an `Idempotency-Key` (contract 14.4): one row per user
and key, inserted with the order it answers. Keys and user ids are ASCII compared byte for byte.

Revision ID: 7c41e9a2d6b3
Revises: 5d2c8e1f4a7b
Create Date: 2026-12-05 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from wapang.db.base import UtcDateTime

revision: str = "7c41e9a2d6b3"
down_revision: str | None = "5d2c8e1f4a7b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ascii(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, charset="ascii", collation="ascii_bin"), "mysql"
    )


def upgrade() -> None:
    op.create_table(
        "idempotent_requests",
        sa.Column("user_id", _ascii(36), nullable=False),
        sa.Column("key", _ascii(255), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column(
            "body", sa.LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql"), nullable=True
        ),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_idempotent_requests")),
    )


def downgrade() -> None:
    op.drop_table("idempotent_requests")
