from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from wapang.db.base import Base, IdColumn, UtcDateTime, new_id, utc_now


class Item(Base):
    """An item for sale. Deletion only marks it: reviews keep pointing at it and its last name."""

    __tablename__ = "items"
    __table_args__ = (
        Index("ix_items_store_listing", "store_id", "deleted_at", "created_at"),
        Index("ix_items_price_listing", "deleted_at", "price"),
    )

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"))
    item_name: Mapped[str] = mapped_column(String(50))
    price: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
