"""Tokens verified once are remembered until they expire, never past it."""

from __future__ import annotations

from datetime import datetime, tzinfo

import pytest

from tests.examples import TEST_SECRETS
from wapang.api.auth.errors import InvalidToken
from wapang.api.auth.tokens import SignInSession, TokenKind, TokenService
from wapang.config import Settings


@pytest.fixture
def service() -> TokenService:
    return TokenService(Settings.load(env_file=None, **TEST_SECRETS))


def test_a_remembered_token_keeps_its_claims(service: TokenService) -> None:
    token = service.issue("user-1", TokenKind.ACCESS, 0, SignInSession.new())
    first = service.decode(token, TokenKind.ACCESS)
    assert service.decode(token, TokenKind.ACCESS) == first
    assert first.subject == "user-1"


def test_a_remembered_token_is_refused_once_expired(
    service: TokenService, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = service.issue("user-1", TokenKind.ACCESS, 0, SignInSession.new())
    later = service.decode(token, TokenKind.ACCESS).expires_at.timestamp() + 1

    class Later(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Later:
            return cls.fromtimestamp(later, tz)

    monkeypatch.setattr("wapang.api.auth.tokens.time.time", lambda: later)
    monkeypatch.setattr("jwt.api_jwt.datetime", Later)  # PyJWT's own expiry check
    with pytest.raises(InvalidToken):
        service.decode(token, TokenKind.ACCESS)


def test_a_token_of_one_kind_is_not_remembered_for_the_other(service: TokenService) -> None:
    token = service.issue("user-1", TokenKind.ACCESS, 0, SignInSession.new())
    service.decode(token, TokenKind.ACCESS)
    with pytest.raises(InvalidToken):
        service.decode(token, TokenKind.REFRESH)


OLD_ACCESS = "o" * 40 + "Q7"


def test_a_rotated_secret_keeps_earlier_tokens_valid_by_their_key_id() -> None:
    earlier = TEST_SECRETS | {"ACCESS_TOKEN_SECRET": OLD_ACCESS}
    before = TokenService(Settings.load(env_file=None, **earlier))
    token = before.issue("user-1", TokenKind.ACCESS, 0, SignInSession.new())
    rotated = Settings.load(
        env_file=None, **TEST_SECRETS, ACCESS_TOKEN_SECRETS_PREVIOUS=f" {OLD_ACCESS} ,"
    )

    assert TokenService(rotated).decode(token, TokenKind.ACCESS).subject == "user-1"
    with pytest.raises(InvalidToken):  # once the old secret is dropped from the list
        TokenService(Settings.load(env_file=None, **TEST_SECRETS)).decode(token, TokenKind.ACCESS)
    # New tokens are signed with the current secret only.
    fresh = TokenService(rotated).issue("user-1", TokenKind.ACCESS, 0, SignInSession.new())
    with pytest.raises(InvalidToken):
        before.decode(fresh, TokenKind.ACCESS)


@pytest.mark.parametrize("setting", ["TOKEN_ISSUER", "TOKEN_AUDIENCE"])
def test_a_token_of_another_deployment_is_refused(setting: str) -> None:
    other = TokenService(Settings.load(env_file=None, **TEST_SECRETS, **{setting: "elsewhere"}))
    token = other.issue("user-1", TokenKind.ACCESS, 0, SignInSession.new())
    with pytest.raises(InvalidToken):
        TokenService(Settings.load(env_file=None, **TEST_SECRETS)).decode(token, TokenKind.ACCESS)
