"""initial schema

Revision ID: b3af9fb25bce
Revises:
Create Date: 2026-11-25 13:20:47.868938
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from wapang.db.base import UtcDateTime


revision: str = "b3af9fb25bce"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# utf8mb4 so Korean names and comments round-trip on MySQL whatever the server's default.
TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}


def upgrade() -> None:
    op.create_table(
        "blocked_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_blocked_tokens")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("blocked_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_blocked_tokens_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "users",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column(
            "email",
            sa.String(length=254).with_variant(sa.String(length=254, collation="NOCASE"), "sqlite"),
            nullable=False,
        ),
        sa.Column("hashed_password", sa.String(length=255), nullable=False),
        sa.Column("nickname", sa.String(length=20), nullable=True),
        sa.Column("address", sa.String(length=100), nullable=True),
        sa.Column("phone_number", sa.String(length=13), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("buyer_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("total_price", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["buyer_id"], ["users.id"], name=op.f("fk_orders_buyer_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_buyer_listing", ["buyer_id", "created_at"], unique=False)

    op.create_table(
        "stores",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column(
            "store_name",
            sa.String(length=20).with_variant(sa.String(length=20, collation="NOCASE"), "sqlite"),
            nullable=False,
        ),
        sa.Column("address", sa.String(length=100), nullable=False),
        sa.Column(
            "email",
            sa.String(length=254).with_variant(sa.String(length=254, collation="NOCASE"), "sqlite"),
            nullable=False,
        ),
        sa.Column("phone_number", sa.String(length=13), nullable=False),
        sa.Column("delivery_fee", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_stores_owner_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stores")),
        sa.UniqueConstraint("email", name=op.f("uq_stores_email")),
        sa.UniqueConstraint("owner_id", name=op.f("uq_stores_owner_id")),
        sa.UniqueConstraint("phone_number", name=op.f("uq_stores_phone_number")),
        sa.UniqueConstraint("store_name", name=op.f("uq_stores_store_name")),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "items",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("store_id", sa.String(length=36), nullable=False),
        sa.Column("item_name", sa.String(length=50), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("deleted_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"], name=op.f("fk_items_store_id_stores")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_items")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.create_index("ix_items_price_listing", ["deleted_at", "price"], unique=False)
        batch_op.create_index(
            "ix_items_store_listing", ["store_id", "deleted_at", "created_at"], unique=False
        )

    op.create_table(
        "order_lines",
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=36), nullable=False),
        sa.Column("item_name", sa.String(length=50), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.String(length=36), nullable=False),
        sa.Column("store_name", sa.String(length=20), nullable=False),
        sa.Column("delivery_fee", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_lines_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("order_id", "position", name=op.f("pk_order_lines")),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "cart_lines",
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("item_id", sa.String(length=36), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_cart_lines_item_id_items")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_cart_lines_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", "item_id", name=op.f("pk_cart_lines")),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "reviews",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("item_id", sa.String(length=36), nullable=False),
        sa.Column("writer_id", sa.String(length=36), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.String(length=500), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name=op.f("fk_reviews_item_id_items")),
        sa.ForeignKeyConstraint(
            ["writer_id"], ["users.id"], name=op.f("fk_reviews_writer_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
        sa.UniqueConstraint("writer_id", "item_id", name=op.f("uq_reviews_writer_id_item_id")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.create_index("ix_reviews_item_listing", ["item_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_reviews_item_listing")

    op.drop_table("reviews")
    op.drop_table("cart_lines")
    op.drop_table("order_lines")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index("ix_items_store_listing")
        batch_op.drop_index("ix_items_price_listing")

    op.drop_table("items")
    op.drop_table("stores")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_buyer_listing")

    op.drop_table("orders")
    op.drop_table("users")
    with op.batch_alter_table("blocked_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_blocked_tokens_expires_at"))

    op.drop_table("blocked_tokens")
