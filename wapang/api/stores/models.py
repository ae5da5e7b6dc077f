from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from wapang.db.base import (
    EMAIL_MAX_LENGTH,
    Base,
    IdColumn,
    UtcDateTime,
    case_insensitive_text,
    new_id,
    utc_now,
)


class Store(Base):
    __tablename__ = "stores"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), unique=True)
    store_name: Mapped[str] = mapped_column(case_insensitive_text(20), unique=True)
    address: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(case_insensitive_text(EMAIL_MAX_LENGTH), unique=True)
    phone_number: Mapped[str] = mapped_column(String(13), unique=True)
    delivery_fee: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
