from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from wapang.api.schemas import Email, Nickname, PatchModel, PhoneNumber, RequestModel

Password = Annotated[str, Field(min_length=8, max_length=20)]


class SignUp(RequestModel):
    email: Email
    password: Password


class PasswordChange(RequestModel):
    current_password: str
    new_password: Password


class ProfileUpdate(PatchModel):
    nickname: Nickname | None = None
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
