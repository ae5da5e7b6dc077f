from __future__ import annotations

from wapang.api.orders.pricing import PricedLines
from wapang.api.schemas import Amount, RequestModel


class CartLineSet(RequestModel):
    item_id: str
    quantity: Amount


class CartOut(PricedLines):
    pass
