from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from wapang.api.orders.pricing import PricedLines
from wapang.api.schemas import RequestModel
from wapang.db.base import INT32_MAX


class OrderLineRequest(RequestModel):
    item_id: str
    quantity: Annotated[int, Field(ge=1, le=INT32_MAX)]


class OrderCreate(RequestModel):
    items: list[OrderLineRequest]


class OrderStatusChange(RequestModel):
    status: Literal["CANCELED", "COMPLETE"]


class OrderOut(PricedLines):
    order_id: str
    status: str


class OrderSummaryOut(BaseModel):
    order_id: str
    total_price: int
    status: str
