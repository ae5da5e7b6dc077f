"""HS256 access and refresh tokens: each kind with its own keys, lifetime and `typ` claim.

Every token names its key (`kid` in the header): the current secret signs, earlier ones listed
in `*_TOKEN_SECRETS_PREVIOUS` still verify, so a secret is rotated without signing everyone out.
`iss` and `aud` tie a token to this deployment. `ver` is the user's token version when it was
issued (a password change or a sign-out everywhere bumps it), `sid` and `auth_time` the sign-in
it descends from: refreshing keeps both, and no token outlives `auth_time + SESSION_MAX_AGE`.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import jwt

from wapang.api.auth.errors import InvalidToken
from wapang.api.auth.schemas import TokenPair
from wapang.config import Settings

ALGORITHM = "HS256"
VERIFIED_CACHE_SIZE = 4096
REQUIRED_CLAIMS = ["sub", "exp", "iat", "jti", "typ", "iss", "aud", "ver", "sid", "auth_time"]
MAX_ID_LENGTH = 64


class TokenKind(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"


@dataclass(frozen=True)
class SignInSession:
    """The sign-in a token pair descends from: refreshing continues it, never extends it."""

    session_id: str
    signed_in_at: datetime

    @classmethod
    def new(cls) -> SignInSession:
        # Whole seconds: the instant travels as an integer claim and must compare equal.
        return cls(uuid.uuid4().hex, datetime.fromtimestamp(int(time.time()), UTC))


@dataclass(frozen=True)
class TokenClaims:
    subject: str
    token_id: str
    expires_at: datetime
    version: int
    session: SignInSession


def key_id(secret: str) -> str:
    """A key's name in the token header: a digest, so the secret itself never travels."""
    return hashlib.sha256(b"wapang-kid\0" + secret.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class _Keys:
    signing_id: str
    signing_secret: str
    accepted: dict[str, str]

    @classmethod
    def of(cls, current: str, previous: list[str]) -> _Keys:
        accepted = {key_id(secret): secret for secret in [*previous, current]}
        return cls(key_id(current), current, accepted)


class TokenService:
    def __init__(self, settings: Settings) -> None:
        self._keys = {
            TokenKind.ACCESS: _Keys.of(settings.access_secret, settings.previous_access_secrets),
            TokenKind.REFRESH: _Keys.of(settings.refresh_secret, settings.previous_refresh_secrets),
        }
        self._lifetimes = {
            TokenKind.ACCESS: timedelta(minutes=settings.SHORT_SESSION_LIFESPAN),
            TokenKind.REFRESH: timedelta(minutes=settings.LONG_SESSION_LIFESPAN),
        }
        self.session_max_age = timedelta(minutes=settings.SESSION_MAX_AGE)
        self._issuer = settings.TOKEN_ISSUER
        self._audience = settings.TOKEN_AUDIENCE
        # A client sends the same token with every request until it expires: what a signature
        # check proved once stays true, so only the expiry is checked again.
        self._verified: dict[tuple[str, TokenKind], tuple[TokenClaims, float]] = {}

    def session_ends_at(self, session: SignInSession) -> datetime:
        return session.signed_in_at + self.session_max_age

    def issue_pair(
        self, user_id: str, version: int, session: SignInSession | None = None
    ) -> TokenPair:
        """A new pair: for a new sign-in without `session`, else continuing that sign-in."""
        session = session or SignInSession.new()
        return TokenPair(
            access_token=self.issue(user_id, TokenKind.ACCESS, version, session),
            refresh_token=self.issue(user_id, TokenKind.REFRESH, version, session),
        )

    def issue(self, user_id: str, kind: TokenKind, version: int, session: SignInSession) -> str:
        now = datetime.now(UTC)
        expires = min(now + self._lifetimes[kind], self.session_ends_at(session))
        claims: dict[str, Any] = {
            "sub": user_id,
            "exp": int(expires.timestamp()),
            "iat": int(now.timestamp()),
            # A random id makes every token unique, so a rotated token never equals a blocked one.
            "jti": uuid.uuid4().hex,
            "typ": kind.value,
            "iss": self._issuer,
            "aud": self._audience,
            "ver": version,
            "sid": session.session_id,
            "auth_time": int(session.signed_in_at.timestamp()),
        }
        keys = self._keys[kind]
        return jwt.encode(
            claims, keys.signing_secret, algorithm=ALGORITHM, headers={"kid": keys.signing_id}
        )

    def decode(self, token: str, kind: TokenKind) -> TokenClaims:
        """Verify key, signature (HS256 only), expiry, issuer, audience, every claim and the
        kind; else `InvalidToken`."""
        verified = self._verified.get((token, kind))
        if verified is not None:
            claims, expires = verified
            if time.time() < expires:
                return claims
            del self._verified[token, kind]
        claims = self._verify(token, kind)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.clear()
        self._verified[token, kind] = (claims, claims.expires_at.timestamp())
        return claims

    def _verify(self, token: str, kind: TokenKind) -> TokenClaims:
        try:
            key_name = jwt.get_unverified_header(token).get("kid")
            secret = self._keys[kind].accepted.get(key_name) if isinstance(key_name, str) else None
            if secret is None:
                raise InvalidToken()
            claims = jwt.decode(
                token,
                secret,
                algorithms=[ALGORITHM],
                issuer=self._issuer,
                audience=self._audience,
                options={"require": REQUIRED_CLAIMS},
            )
        except (jwt.PyJWTError, ValueError, TypeError):
            raise InvalidToken() from None
        if claims["typ"] != kind.value:
            raise InvalidToken()
        return TokenClaims(
            subject=_short_text(claims["sub"]),
            token_id=_short_text(claims["jti"]),
            expires_at=_instant(claims["exp"]),
            version=_integer(claims["ver"]),
            session=SignInSession(_short_text(claims["sid"]), _instant(claims["auth_time"])),
        )


def _short_text(value: object) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LENGTH:
        raise InvalidToken()
    return value


def _integer(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidToken()
    return value


def _instant(value: object) -> datetime:
    """A claim as an instant. A validly signed token can still carry a claim of the wrong type
    or far outside what a clock can represent (`10**30`, a string): it is invalid, not a 500."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken()
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidToken() from None
