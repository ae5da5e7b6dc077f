from __future__ import annotations

from wapang.pricing import PricedLines
from wapang.schemas import Amount, RequestModel


class CartLineSet(RequestModel):
    item_id: str
    quantity: Amount


class CartOut(PricedLines):
    pass
