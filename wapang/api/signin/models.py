from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from wapang.db.base import Base, UtcDateTime


class BlockedToken(Base):
    """A refresh token that must no longer be honoured, kept until its own expiry."""

    __tablename__ = "blocked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
