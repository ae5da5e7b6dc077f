from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from wapang.api.schemas import Amount, PatchModel, RequestModel


class ItemCreate(RequestModel):
    item_name: str = Field(min_length=2, max_length=50)
    price: Amount
    stock: Amount


class ItemUpdate(PatchModel):
    item_name: str | None = Field(None, min_length=2, max_length=50)
    price: Amount | None = None
    stock: Amount | None = None


class ItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    item_name: str
    price: int
    stock: int


class ListedItemOut(ItemOut):
    store_id: str
    store_name: str
