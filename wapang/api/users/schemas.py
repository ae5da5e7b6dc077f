from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from wapang.api.schemas import Email, PatchModel, PhoneNumber, RequestModel


class SignUp(RequestModel):
    email: Email
    password: str = Field(min_length=8, max_length=20)


class ProfileUpdate(PatchModel):
    nickname: str | None = Field(None, max_length=20)
    address: str | None = Field(None, max_length=100)
    phone_number: PhoneNumber | None = None
    email: Email | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    nickname: str | None
    address: str | None
    phone_number: str | None
