from __future__ import annotations

from wapang.schemas import Email, RequestModel


class SignIn(RequestModel):
    email: Email
    password: str
