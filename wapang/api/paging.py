"""Listings are paged (contract 14.3), by the read path (api/reads.py) for every listing.

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
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    DateTime,
    Integer,
    Select,
    and_,
    bindparam,
    or_,
    type_coerce,
)

from wapang.api.errors import InvalidFieldFormat

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
_ID_MAX_LENGTH = 36

PAGE_LIMIT = "page_limit"


def keyset(
    query: Select[Any], created_at: ColumnElement[Any], row_id: ColumnElement[Any], after: bool
) -> Select[Any]:
    """`query` (already ordered by created_at, id) cut to a page: `LIMIT :page_limit` (one
    more row than served, which tells whether another page follows), the key columns selected
    last, and (`after`) only the rows past the cursor's key. Built once per listing, at import
    (api/reads.py); a request binds `Page.values()`. The comparison is spelled out, not a row
    value `(a, b) > (x, y)`, which MySQL does not use an index for."""
    # The key's time is read as the driver gives it (naive UTC), not through `UtcDateTime` on
    # every row: only the last row's becomes a cursor (`cut` makes it aware).
    key_at = type_coerce(created_at, DateTime()).label("page_created_at")
    paged = query.add_columns(key_at, row_id.label("page_id"))
    if after:
        at = bindparam("page_after_at", type_=created_at.type)
        key: BindParameter[Any] = bindparam("page_after_id", type_=row_id.type)
        paged = paged.where(or_(created_at > at, and_(created_at == at, row_id > key)))
    return paged.limit(bindparam(PAGE_LIMIT, type_=Integer()))


@dataclass(frozen=True)
class Page:
    """Which rows a request asked for: `limit` rows after `after` (None: the first page)."""

    limit: int = DEFAULT_LIMIT
    after: tuple[datetime, str] | None = None

    def values(self) -> dict[str, Any]:
        """The bound values of the statement `keyset` built."""
        if self.after is None:
            return {PAGE_LIMIT: self.limit + 1}
        return {
            PAGE_LIMIT: self.limit + 1,
            "page_after_at": self.after[0],
            "page_after_id": self.after[1],
        }

    def cut(self, rows: Sequence[Sequence[Any]]) -> tuple[Sequence[Sequence[Any]], str | None]:
        """The page's rows, and the cursor of the next page when more rows follow (the key
        of the last row served: its last two columns)."""
        if len(rows) <= self.limit:
            return rows, None
        last = rows[self.limit - 1]
        return rows[: self.limit], _encode(last[-2].replace(tzinfo=UTC), last[-1])


def next_page_link(request: Request, cursor: str | None) -> dict[str, str]:
    """`Link: <next page>; rel="next"` when one follows (RFC 8288)."""
    if cursor is None:
        return {}
    return {"Link": f'<{request.url.include_query_params(cursor=cursor)}>; rel="next"'}


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


async def page_request(  # async: FastAPI runs a plain function in a thread
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Page:
    return Page(limit, None if cursor is None else _decode(cursor))


Paging = Annotated[Page, Depends(page_request)]
