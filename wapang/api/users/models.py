from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column, validates

from wapang.db.base import (
    EMAIL_KEY_MAX_LENGTH,
    EMAIL_MAX_LENGTH,
    Base,
    IdColumn,
    UtcDateTime,
    case_insensitive_text,
    name_key,
    new_id,
    utc_now,
)


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(case_insensitive_text(EMAIL_MAX_LENGTH), unique=True)
    # The address's key (db/base.py `name_key`): one account per key on both backends, and the
    # sign-in's lookup. NULL only for a row the release before migration 8b1f3c5d7e90 wrote.
    email_key: Mapped[str | None] = mapped_column(String(EMAIL_KEY_MAX_LENGTH), unique=True)
    hashed_password: Mapped[str] = mapped_column(String(255))
    nickname: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(String(100))
    phone_number: Mapped[str | None] = mapped_column(String(13))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    # Every token carries the version it was issued under; a password change or a sign-out
    # everywhere bumps it, so all earlier tokens stop matching. Read with the row every
    # authenticated request loads anyway: no extra query, no clock to compare.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    @validates("email")
    def _keep_key(self, _: str, email: str) -> str:
        """Every write of the address writes its key: sign-up and e-mail change alike."""
        self.email_key = name_key(email)
        return email

    @staticmethod
    def with_keys(changes: dict[str, Any]) -> dict[str, Any]:
        """An UPDATE's values with the key of any address among them: a Core UPDATE does not
        pass through `_keep_key`."""
        if "email" in changes:
            return {**changes, "email_key": name_key(changes["email"])}
        return changes
