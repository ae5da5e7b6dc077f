"""Tokens verified once are remembered until they expire, never past it."""

from __future__ import annotations

from datetime import datetime, tzinfo

import pytest

from wapang.api.auth import tokens as tokens_module
from wapang.api.auth.errors import InvalidToken
from wapang.api.auth.tokens import TokenKind, TokenService
from wapang.config import Settings

SECRETS = {"ACCESS_TOKEN_SECRET": "a" * 40 + "Q7", "REFRESH_TOKEN_SECRET": "r" * 40 + "Q7"}


@pytest.fixture
def service() -> TokenService:
    return TokenService(Settings.load(env_file=None, **SECRETS))


def test_a_remembered_token_keeps_its_claims(service: TokenService) -> None:
    token = service.issue("user-1", TokenKind.ACCESS)
    first = service.decode(token, TokenKind.ACCESS)
    assert service.decode(token, TokenKind.ACCESS) == first
    assert first.subject == "user-1"


def test_a_remembered_token_is_refused_once_expired(
    service: TokenService, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = service.issue("user-1", TokenKind.ACCESS)
    later = service.decode(token, TokenKind.ACCESS).expires_at.timestamp() + 1

    class Later(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Later:
            return cls.fromtimestamp(later, tz)

    monkeypatch.setattr(tokens_module.time, "time", lambda: later)
    monkeypatch.setattr("jwt.api_jwt.datetime", Later)  # PyJWT's own expiry check
    with pytest.raises(InvalidToken):
        service.decode(token, TokenKind.ACCESS)


def test_a_token_of_one_kind_is_not_remembered_for_the_other(service: TokenService) -> None:
    token = service.issue("user-1", TokenKind.ACCESS)
    service.decode(token, TokenKind.ACCESS)
    with pytest.raises(InvalidToken):
        service.decode(token, TokenKind.REFRESH)
