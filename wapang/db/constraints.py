"""Which constraint a failed statement broke, by name, on both backends (errors.py maps it)."""

from __future__ import annotations

import re

from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.schema import ColumnCollectionConstraint

from wapang.db.base import Base

_MYSQL_DUPLICATE_KEY = re.compile(r"for key '(?:[^'.]+\.)?([^']+)'")
_MYSQL_FOREIGN_KEY = re.compile(r"CONSTRAINT `([^`]+)`")
_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (.+)")


def violated_constraint(error: IntegrityError) -> str | None:
    """The name of the constraint a statement broke, on both backends.

    MySQL names the key (`for key 'uq_stores_owner_id'`, or `stores.uq_…` on MySQL 8); SQLite
    names only the columns (`stores.owner_id`), which the schema maps back to the constraint.
    """
    message = str(error.orig)
    for pattern in (_MYSQL_DUPLICATE_KEY, _MYSQL_FOREIGN_KEY):
        if found := pattern.search(message):
            return _named_primary_key(found.group(1), error.statement)
    if found := _SQLITE_UNIQUE.search(message):
        columns = [part.strip() for part in found.group(1).split(",")]
        table = Base.metadata.tables.get(columns[0].split(".")[0])
        names = {column.split(".")[-1] for column in columns}
        for constraint in table.constraints if table is not None else ():
            if (
                isinstance(constraint, ColumnCollectionConstraint)
                and set(constraint.columns.keys()) == names
            ):
                return str(constraint.name)
    return None


_INSERT_INTO = re.compile(r"INSERT INTO `?(\w+)`?", re.IGNORECASE)


def _named_primary_key(key: str, statement: str | None) -> str:
    """MySQL ignores primary key names and reports `PRIMARY`: the inserted table says whose."""
    found = _INSERT_INTO.match(statement or "") if key == "PRIMARY" else None
    table = Base.metadata.tables.get(found.group(1)) if found else None
    return str(table.primary_key.name) if table is not None else key
