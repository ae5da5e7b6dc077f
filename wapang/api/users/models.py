from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
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


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(case_insensitive_text(EMAIL_MAX_LENGTH), unique=True)
    hashed_password: Mapped[str] = mapped_column(String(255))
    nickname: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(String(100))
    phone_number: Mapped[str | None] = mapped_column(String(13))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
