from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column

from wapang.db.base import Base, UtcDateTime

# Hex digests only: ASCII compared byte for byte on MySQL, whatever the table's collation.
HexKey = String(64).with_variant(mysql.VARCHAR(64, charset="ascii", collation="ascii_bin"), "mysql")


class BlockedToken(Base):
    """A refresh token that must no longer be honoured, kept until its own expiry."""

    __tablename__ = "blocked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class RevokedSession(Base):
    """A sign-in whose refresh tokens must no longer be honoured (a rotated one came back),
    kept until the last of them would have expired."""

    __tablename__ = "revoked_sessions"

    session_id: Mapped[str] = mapped_column(HexKey, primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class SignInFailures(Base):
    """Failed sign-ins in a row for one e-mail (known or not), keyed by a digest of the
    normalised address so the table holds no addresses. Shared by every worker and replica."""

    __tablename__ = "sign_in_failures"

    account: Mapped[str] = mapped_column(HexKey, primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failed_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
