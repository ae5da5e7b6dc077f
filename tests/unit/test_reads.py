"""The read path's serializer writes what pydantic wrote, byte for byte, and a query whose
columns are not its response schema's fields fails when it is built, not when it answers."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter
from sqlalchemy import Integer, String, bindparam, column, select, table

from wapang.api.items.queries import STORE_ITEMS
from wapang.api.items.schemas import ItemOut
from wapang.api.reads import Query, Shape
from wapang.api.reviews.queries import ITEM_REVIEWS
from wapang.api.reviews.schemas import ItemReviewOut

# Every character of the first planes that JSON escapes or not, and the ones encoders disagree
# on most often (line separators, DEL, astral characters).
SAMPLES = [chr(code) for code in range(0x800)] + ["\u2028", "\u2029", "\U0001f600", "\ufffd"]


def test_rows_encode_as_pydantic_encodes_the_response_model() -> None:
    shape = Shape(ItemReviewOut)
    models = TypeAdapter(list[ItemReviewOut])
    for sample in SAMPLES:
        text = f"a{sample}b"
        row = ("r", text, True, 5, text)
        expected = models.dump_json([ItemReviewOut(**dict(zip(shape.fields, row, strict=True)))])
        assert shape.encode([shape.struct(*row)]) == expected, repr(sample)


def test_an_unset_field_is_left_out_as_exclude_unset_did() -> None:
    anonymous = ITEM_REVIEWS[False].first
    row = ("r", None, 4, "fine", "2026-12-05 00:00:00", "r")  # + the page key columns
    assert anonymous.encode_all([row]) == (
        b'[{"review_id":"r","writer_nickname":null,"rating":4,"comment":"fine"}]'
    )
    assert b'"is_writer"' in ITEM_REVIEWS[True].first.encode_all([("r", None, False, 4, "f")])


def test_the_page_key_columns_are_not_served() -> None:
    row = ("i", "name", 1000, 3, "2026-12-05 00:00:00", "i")
    assert STORE_ITEMS.first.encode_all([row]) == (
        b'[{"id":"i","item_name":"name","price":1000,"stock":3}]'
    )


def test_a_query_whose_columns_are_not_its_schema_fails_when_built() -> None:
    items = table(
        "items",
        column("id", String),
        column("item_name", String),
        column("price", Integer),
        column("stock", Integer),
    )
    c = items.c
    where = c.id == bindparam("item_id")
    Query(select(c.id, c.item_name, c.price, c.stock).where(where), ItemOut)
    with pytest.raises(TypeError, match="selects"):
        Query(select(c.id, c.price, c.item_name, c.stock).where(where), ItemOut)  # order
    with pytest.raises(TypeError, match="price"):
        Query(select(c.id, c.item_name, c.item_name.label("price"), c.stock), ItemOut)  # type
