from __future__ import annotations

from wapang.api.schemas import Email, RequestModel


class SignIn(RequestModel):
    email: Email
    password: str
