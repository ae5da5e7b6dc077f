from __future__ import annotations

from pydantic import BaseModel

from wapang.schemas import Email, RequestModel


class SignIn(RequestModel):
    email: Email
    password: str


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
