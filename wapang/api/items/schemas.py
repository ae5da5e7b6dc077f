from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from wapang.api.schemas import Amount, ItemName, PatchModel, RequestModel


class ItemCreate(RequestModel):
    item_name: ItemName
    price: Amount
    stock: Amount


class ItemUpdate(PatchModel):
    item_name: ItemName | None = None
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
