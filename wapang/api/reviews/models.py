from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from wapang.db.base import Base, IdColumn, UtcDateTime, new_id, utc_now


class Review(Base):
    __tablename__ = "reviews"
    OWNER = "writer_id"
    __table_args__ = (
        UniqueConstraint("writer_id", "item_id"),
        Index("ix_reviews_item_listing", "item_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"))
    writer_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
