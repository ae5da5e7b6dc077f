"""sessions that end and sign-in failures (contract 14.2, 14.6)

`users.token_version` (bumped by a password change or a sign-out everywhere: earlier tokens
stop matching), `revoked_sessions` (sign-ins whose refresh tokens were revoked after a reuse)
and `sign_in_failures` (failed sign-ins in a row per e-mail digest, shared by every worker).

Revision ID: 7e4a1c9b2d30
Revises: 7c41e9a2d6b3
Create Date: 2026-12-05 09:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from wapang.db.base import UtcDateTime

revision: str = "7e4a1c9b2d30"
down_revision: str | None = "7c41e9a2d6b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}
HEX_KEY = sa.String(64).with_variant(
    mysql.VARCHAR(64, charset="ascii", collation="ascii_bin"), "mysql"
)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(
            sa.Column("token_version", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "revoked_sessions",
        sa.Column("session_id", HEX_KEY, nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_revoked_sessions")),
        **TABLE_OPTIONS,
    )
    op.create_index(
        op.f("ix_revoked_sessions_expires_at"), "revoked_sessions", ["expires_at"], unique=False
    )
    op.create_table(
        "sign_in_failures",
        sa.Column("account", HEX_KEY, nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("account", name=op.f("pk_sign_in_failures")),
        **TABLE_OPTIONS,
    )
    op.create_index(
        op.f("ix_sign_in_failures_last_failed_at"),
        "sign_in_failures",
        ["last_failed_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_sign_in_failures_last_failed_at"), table_name="sign_in_failures")
    op.drop_table("sign_in_failures")
    op.drop_index(op.f("ix_revoked_sessions_expires_at"), table_name="revoked_sessions")
    op.drop_table("revoked_sessions")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("token_version")
