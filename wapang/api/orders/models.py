from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
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
