from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator

from wapang.api.orders.pricing import PricedLines
from wapang.api.schemas import RequestModel
from wapang.db.base import INT32_MAX


class OrderLineRequest(RequestModel):
    item_id: str
    quantity: Annotated[int, Field(ge=1, le=INT32_MAX)]


class PricedRequest(RequestModel):
    """Contract 14.5: the total the buyer saw, optional but never `null`."""

    expected_total_price: Annotated[int, Field(ge=0, le=2**63 - 1)] | None = None

    @field_validator("expected_total_price", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("null is not accepted")
        return value


class OrderCreate(PricedRequest):
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
