"""The ORM base, its naming convention, and the column types and limits every table shares."""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import DateTime, MetaData, String, Table
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # The column naming the user a row belongs to, for `get_owned`.
    OWNER: ClassVar[str] = ""


def table_of(model: type[Base]) -> Table:
    """A model's table, for the Core statements of hot paths (no ORM objects to build)."""
    return Base.metadata.tables[model.__tablename__]


def new_id() -> str:
    """A fresh UUID4 for each row: passed as a callable default, never evaluated once."""
    return str(uuid.uuid4())


def utc_now() -> datetime:
    return datetime.now(UTC)


IdColumn = String(36)
_CANONICAL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_canonical_id(value: str) -> bool:
    """Ids are lowercase hyphenated UUIDs (contract §1.2): anything else matches no row, so a
    lookup can answer its 404 without asking the database."""
    return _CANONICAL_ID.fullmatch(value) is not None


INT32_MAX = 2**31 - 1
EMAIL_MAX_LENGTH = 254


def case_insensitive_text(length: int) -> String:
    """Unique text compared without case on both backends (MySQL's collation already is)."""
    return String(length).with_variant(String(length, collation="NOCASE"), "sqlite")


# A name's key can be longer than the name: case folding spells some letters out ("ß" is
# "ss", "ΐ" three characters).
NAME_KEY_MAX_LENGTH = 80
EMAIL_KEY_MAX_LENGTH = 3 * EMAIL_MAX_LENGTH  # 3: the most characters folding makes of one


def name_key(name: str) -> str:
    """What two names are compared by, the same on both backends: NFKC, Unicode case folding,
    NFKC again (Unicode's NFKC_Casefold, near enough). "Café" and "CAFÉ", "Straße" and
    "STRASSE" are one name (and "café@x.com", "CAFÉ@x.com" one address); "cafe" and "café"
    are not. Stored in a column with its own unique
    key, compared byte for byte: neither SQLite's NOCASE (ASCII only) nor MariaDB's UCA
    collation decides."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


class UtcDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC with microseconds; always read back timezone-aware."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)
