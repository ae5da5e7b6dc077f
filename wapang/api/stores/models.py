from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, validates

from wapang.db.base import (
    EMAIL_KEY_MAX_LENGTH,
    EMAIL_MAX_LENGTH,
    NAME_KEY_MAX_LENGTH,
    Base,
    IdColumn,
    UtcDateTime,
    case_insensitive_text,
    name_key,
    new_id,
    utc_now,
)


class Store(Base):
    __tablename__ = "stores"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), unique=True)
    store_name: Mapped[str] = mapped_column(case_insensitive_text(20), unique=True)
    # The name's and the e-mail's keys (db/base.py `name_key`), which settle uniqueness on both
    # backends; exact collation on MySQL (migration 8b1f3c5d7e90). NULL only for a row written
    # by the release before it during a blue/green switch, whose old unique keys still guard it.
    store_name_key: Mapped[str | None] = mapped_column(String(NAME_KEY_MAX_LENGTH), unique=True)
    address: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(case_insensitive_text(EMAIL_MAX_LENGTH), unique=True)
    email_key: Mapped[str | None] = mapped_column(String(EMAIL_KEY_MAX_LENGTH), unique=True)
    phone_number: Mapped[str] = mapped_column(String(13), unique=True)
    delivery_fee: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)

    @validates("store_name", "email")
    def _keep_key(self, field: str, value: str) -> str:
        """Every write of the name or e-mail writes its key: one place, creation and edit alike."""
        setattr(self, f"{field}_key", name_key(value))
        return value
