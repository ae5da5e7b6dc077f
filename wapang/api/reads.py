"""The read path: every GET that answers from the database goes through here.

A read is a query, not a service call on an ORM session:
- its statement is built once, at import, in the domain's `queries.py` (SQLAlchemy Core,
  compiled for the dialect once, db/reader.py `Statement`; a request only binds values);
- it runs at the driver, on a connection of the read pool (`Reads`, db/reader.py) in
  autocommit: no engine, session, identity map or unit of work, and every statement sees what
  was committed before it ran;
- its rows become the answer's bytes through a serializer derived once from the route's
  response schema (`Shape`: a msgspec struct with the schema's fields in the schema's order,
  filled by position from the row; msgspec writes the same bytes as pydantic did);
- listings are paged here (`Listing`, keyset of api/paging.py), every listing the same way.

The route keeps its `response_model`, so the OpenAPI document is unchanged, and returns the
bytes (`json_answer`). What replaces validating each answer is a check at import: the columns a
statement selects must be the schema's fields, in its order, of its types (a nullable column
only for a field that admits null); a query that does not match its schema fails at start-up.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
from fastapi import Request, Response
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select

from wapang.api.paging import Page, keyset, next_page_link
from wapang.db.reader import ReadPool
from wapang.db.statements import Row, Statement

_ENCODER = msgspec.json.Encoder()
JSON = "application/json"


class Shape:
    """A response schema's fields (or the ones a query selects of them, for a schema whose
    unset fields are left out of the JSON), as a struct msgspec encodes without validating:
    the values were checked against the schema once, when the query was built."""

    def __init__(self, schema: type[BaseModel], fields: Sequence[str] | None = None) -> None:
        names = list(schema.model_fields)
        self.fields = names if fields is None else [name for name in names if name in fields]
        self.schema = schema
        self.struct = msgspec.defstruct(
            f"{schema.__name__}Json", [(name, Any) for name in self.fields]
        )

    def encode(self, value: Any) -> bytes:
        """Structs, lists of them, or a response model (answers built in Python: a priced
        cart) as JSON bytes."""
        if isinstance(value, BaseModel):
            value = value.model_dump()
        return _ENCODER.encode(value)

    def check(self, statement: Select[Any]) -> None:
        """The statement's first columns are this shape's fields: same names, same order,
        types the schema accepts. Any further columns (a page's key) are not served."""
        columns = list(statement.selected_columns)[: len(self.fields)]
        names = [column.key for column in columns]
        if names != self.fields:
            raise TypeError(f"{self.schema.__name__}: a query selects {names}, not {self.fields}")
        for column in columns:
            annotation = self.schema.model_fields[str(column.key)].annotation
            if not _admits(annotation, column):
                raise TypeError(f"{self.schema.__name__}.{column.key}: {annotation} vs {column}")


def _admits(annotation: Any, column: ColumnElement[Any]) -> bool:
    allowed = set(typing.get_args(annotation)) if _is_union(annotation) else {annotation}
    nullable = bool(getattr(getattr(column, "element", column), "nullable", False))
    if nullable and type(None) not in allowed:
        return False
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return True
    return python_type in allowed


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


class Lookup:
    """Whether a row exists (a listing's parent, for its 404): one column, no object."""

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = Statement(statement)

    async def found(self, reads: ReadPool, values: Mapping[str, Any]) -> bool:
        return bool(await reads.rows(self.statement, values))


class Query:
    """A statement and the shape its rows answer in."""

    def __init__(
        self, statement: Select[Any], schema: type[BaseModel], fields: Sequence[str] | None = None
    ) -> None:
        self.statement = Statement(statement)
        self.shape = Shape(schema, fields)
        self.shape.check(statement)
        self._width = len(self.shape.fields)
        self._exact = len(statement.selected_columns) == self._width

    async def rows(self, reads: ReadPool, values: Mapping[str, Any]) -> Sequence[Row]:
        return await reads.rows(self.statement, values)

    def served(self, row: Sequence[Any]) -> Any:
        """One row as the struct its JSON is written from."""
        struct = self.shape.struct
        return struct(*row) if self._exact else struct(*row[: self._width])

    def encode_one(self, row: Sequence[Any]) -> bytes:
        return _ENCODER.encode(self.served(row))

    def encode_all(self, rows: Sequence[Sequence[Any]]) -> bytes:
        struct, width = self.shape.struct, self._width
        if self._exact:
            return _ENCODER.encode([struct(*row) for row in rows])
        return _ENCODER.encode([struct(*row[:width]) for row in rows])

    async def one(self, reads: ReadPool, values: Mapping[str, Any]) -> bytes | None:
        """The first row's JSON, None when there is none."""
        rows = await self.rows(reads, values)
        return self.encode_one(rows[0]) if rows else None


class Listing:
    """A paged listing: its statement (ordered by created_at, id) cut by the keyset of
    api/paging.py, both variants (first page, after a cursor) built once."""

    def __init__(
        self,
        statement: Select[Any],
        schema: type[BaseModel],
        created_at: ColumnElement[Any],
        row_id: ColumnElement[Any],
        fields: Sequence[str] | None = None,
    ) -> None:
        self.first = Query(keyset(statement, created_at, row_id, after=False), schema, fields)
        self.after = Query(keyset(statement, created_at, row_id, after=True), schema, fields)

    async def page(
        self, reads: ReadPool, values: Mapping[str, Any], page: Page
    ) -> tuple[bytes, str | None]:
        """The page's JSON and the cursor of the next page, if one follows."""
        query = self.first if page.after is None else self.after
        rows, cursor = page.cut(await query.rows(reads, {**values, **page.values()}))
        return query.encode_all(rows), cursor


def json_answer(body: bytes, headers: Mapping[str, str] | None = None) -> Response:
    """What a read route returns: the bytes as they are (the route's `response_model` only
    documents them)."""
    return Response(body, media_type=JSON, headers=headers)


def page_answer(request: Request, served: tuple[bytes, str | None]) -> Response:
    """A listing's page, with `Link: <next page>; rel="next"` when one follows."""
    body, cursor = served
    return json_answer(body, next_page_link(request, cursor))
