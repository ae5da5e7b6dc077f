"""Listings are paged (contract 14.3): one mechanism for the five listings.

A page is the next `limit` rows after a key: every listing is ordered by its rows' creation
time with the id as tie-break, and the cursor is the (created_at, id) of the last row served,
opaque to clients. A keyset, never an offset: a row added or removed between two pages cannot
shift the rows that follow, so none is served twice and none is skipped.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request, Response
from sqlalchemy import BindParameter, ColumnElement, Row, Select, and_, bindparam, or_

from wapang.api.errors import InvalidFieldFormat

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
_ID_MAX_LENGTH = 36
# The labels under which a paged statement selects its key columns (see `Page.of`).
_AT, _ID = "page_created_at", "page_id"

RowT = TypeVar("RowT", bound=tuple[Any, ...])


@dataclass(frozen=True)
class Page:
    """Which rows a request asked for: `limit` rows after `after` (None: the first page)."""

    limit: int = DEFAULT_LIMIT
    after: tuple[datetime, str] | None = None

    def of(
        self, query: Select[RowT], created_at: ColumnElement[Any], row_id: ColumnElement[Any]
    ) -> Select[Any]:
        """`query` (already ordered by created_at, id) cut to this page, plus one row that
        tells whether another page follows; the key columns are selected under their labels.
        The comparison is spelled out, not a row value `(a, b) > (x, y)`, which MySQL does
        not use an index for."""
        paged = query.add_columns(created_at.label(_AT), row_id.label(_ID))
        if self.after is not None:
            at = bindparam("page_after_at", type_=created_at.type)
            key: BindParameter[Any] = bindparam("page_after_id", type_=row_id.type)
            paged = paged.where(or_(created_at > at, and_(created_at == at, row_id > key)))
        return paged.limit(self.limit + 1)

    def values(self) -> dict[str, Any]:
        """The bound values of the statement `of` built."""
        if self.after is None:
            return {}
        return {"page_after_at": self.after[0], "page_after_id": self.after[1]}

    def cut(self, rows: Sequence[Row[Any]]) -> Listing:
        """The page's rows, and the cursor of the next page when more rows follow."""
        if len(rows) <= self.limit:
            return Listing(list(rows), None)
        last = rows[self.limit - 1]._mapping
        return Listing(list(rows[: self.limit]), _encode(last[_AT], last[_ID]))


@dataclass(frozen=True)
class Listing:
    rows: list[Any]
    next_cursor: str | None

    def map(self, shape: Any) -> Listing:
        """The same page, each row turned into what the response lists."""
        return Listing([shape(row) for row in self.rows], self.next_cursor)

    def served(self, request: Request, response: Response) -> list[Any]:
        """The rows, with `Link: <next page>; rel="next"` when one follows (RFC 8288)."""
        if self.next_cursor is not None:
            next_page = request.url.include_query_params(cursor=self.next_cursor)
            response.headers["Link"] = f'<{next_page}>; rel="next"'
        return self.rows


def _encode(created_at: datetime, row_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode(cursor: str) -> tuple[datetime, str]:
    """The key a cursor holds; anything that is not one of ours is ERR_003."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, row_id = json.loads(raw)
        created_at = datetime.fromisoformat(at)
    except (binascii.Error, ValueError, TypeError):
        raise InvalidFieldFormat() from None
    if created_at.tzinfo is None or not isinstance(row_id, str) or len(row_id) > _ID_MAX_LENGTH:
        raise InvalidFieldFormat()
    return created_at, row_id


def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Page:
    return Page(limit, None if cursor is None else _decode(cursor))


Paging = Annotated[Page, Depends(page_request)]
