from __future__ import annotations

from wapang.api.orders.pricing import PricedLines
from wapang.api.orders.schemas import PricedRequest
from wapang.api.schemas import Amount, RequestModel


class CartLineSet(RequestModel):
    item_id: str
    quantity: Amount


class CartOut(PricedLines):
    pass


class CheckoutRequest(PricedRequest):
    """Checkout's optional body (contract 14.5); without one, or with one that is not a JSON
    object, it is what it always was: no body (§1.1, the body is ignored)."""
