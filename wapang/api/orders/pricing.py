"""Prices a list of lines the same way for carts and orders (contract §3.3).

Lines are grouped by store in order of first appearance; each store adds its delivery fee once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True)
class PricedLine:
    item_id: str
    item_name: str
    price: int
    quantity: int
    store_id: str
    store_name: str
    delivery_fee: int

    @classmethod
    def of(cls, source: object, **given: Any) -> PricedLine:
        """A line from anything carrying these fields as attributes (a result row, an order
        line), with `given` values for the ones it lacks (the quantity asked for)."""
        return cls(
            **{name: given[name] if name in given else getattr(source, name) for name in _FIELDS}
        )

    @staticmethod
    def names() -> tuple[str, ...]:
        return _FIELDS


_FIELDS = tuple(field.name for field in fields(PricedLine))


class LineOut(BaseModel):
    item_id: str
    item_name: str
    price: int
    quantity: int
    subtotal: int


class StoreGroupOut(BaseModel):
    store_id: str
    store_name: str
    delivery_fee: int
    store_total_price: int
    items: list[LineOut]


class PricedLines(BaseModel):
    details: list[StoreGroupOut]
    total_price: int


def price_lines(lines: Iterable[PricedLine]) -> PricedLines:
    groups: dict[str, StoreGroupOut] = {}
    for line in lines:
        group = groups.get(line.store_id)
        if group is None:
            group = groups[line.store_id] = StoreGroupOut(
                store_id=line.store_id,
                store_name=line.store_name,
                delivery_fee=line.delivery_fee,
                store_total_price=line.delivery_fee,
                items=[],
            )
        subtotal = line.price * line.quantity
        group.items.append(
            LineOut(
                item_id=line.item_id,
                item_name=line.item_name,
                price=line.price,
                quantity=line.quantity,
                subtotal=subtotal,
            )
        )
        group.store_total_price += subtotal
    details = list(groups.values())
    return PricedLines(details=details, total_price=sum(g.store_total_price for g in details))
