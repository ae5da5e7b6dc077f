from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from wapang.api.schemas import Amount, Email, PatchModel, PhoneNumber, RequestModel


class StoreCreate(RequestModel):
    store_name: str = Field(min_length=3, max_length=20)
    address: str = Field(max_length=100)
    email: Email
    phone_number: PhoneNumber
    delivery_fee: Amount


class StoreUpdate(PatchModel):
    store_name: str | None = Field(None, min_length=3, max_length=20)
    address: str | None = Field(None, max_length=100)
    email: Email | None = None
    phone_number: PhoneNumber | None = None
    delivery_fee: Amount | None = None


class StoreOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    store_name: str
    address: str
    email: str
    phone_number: str
    delivery_fee: int
