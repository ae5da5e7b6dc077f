from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wapang.db.base import Base, IdColumn, UtcDateTime, new_id, utc_now


class OrderStatus(StrEnum):
    ORDERED = "ORDERED"
    CANCELED = "CANCELED"
    COMPLETE = "COMPLETE"


class Order(Base):
    __tablename__ = "orders"
    OWNER = "buyer_id"
    __table_args__ = (Index("ix_orders_buyer_listing", "buyer_id", "created_at"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    buyer_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(10), default=OrderStatus.ORDERED.value)
    total_price: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    lines: Mapped[list[OrderLine]] = relationship(
        order_by="OrderLine.position", lazy="raise", cascade="all, delete-orphan"
    )


class OrderLine(Base):
    """A snapshot of an item as it was ordered: later edits never change it."""

    __tablename__ = "order_lines"

    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[str] = mapped_column(IdColumn)
    item_name: Mapped[str] = mapped_column(String(50))
    price: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    store_id: Mapped[str] = mapped_column(IdColumn)
    store_name: Mapped[str] = mapped_column(String(20))
    delivery_fee: Mapped[int] = mapped_column(Integer)


# Keys and the user ids they belong to are ASCII compared byte for byte on MySQL.
_ExactAscii = String(255).with_variant(
    mysql.VARCHAR(255, charset="ascii", collation="ascii_bin"), "mysql"
)
_ExactId = IdColumn.with_variant(mysql.VARCHAR(36, charset="ascii", collation="ascii_bin"), "mysql")


class IdempotentRequest(Base):
    """The answer to a request sent with an `Idempotency-Key` (contract 14.4), per user and key:
    inserted with the request's own transaction, so it exists exactly when the order does."""

    __tablename__ = "idempotent_requests"

    user_id: Mapped[str] = mapped_column(_ExactId, primary_key=True)
    key: Mapped[str] = mapped_column(_ExactAscii, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[bytes | None] = mapped_column(
        LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql")
    )
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
