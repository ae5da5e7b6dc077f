"""HS256 access and refresh tokens: each kind with its own secret, lifetime and `typ` claim."""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import jwt

from wapang.api.auth.errors import InvalidToken
from wapang.api.auth.schemas import TokenPair
from wapang.config import Settings

ALGORITHM = "HS256"
VERIFIED_CACHE_SIZE = 4096


class TokenKind(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"


@dataclass(frozen=True)
class TokenClaims:
    subject: str
    token_id: str
    expires_at: datetime


class TokenService:
    def __init__(self, settings: Settings) -> None:
        self._secrets = {
            TokenKind.ACCESS: settings.access_secret,
            TokenKind.REFRESH: settings.refresh_secret,
        }
        self._lifetimes = {
            TokenKind.ACCESS: timedelta(minutes=settings.SHORT_SESSION_LIFESPAN),
            TokenKind.REFRESH: timedelta(minutes=settings.LONG_SESSION_LIFESPAN),
        }
        # A client sends the same token with every request until it expires: what a signature
        # check proved once stays true, so only the expiry is checked again.
        self._verified: dict[tuple[str, TokenKind], tuple[TokenClaims, float]] = {}

    def issue_pair(self, user_id: str) -> TokenPair:
        return TokenPair(
            access_token=self.issue(user_id, TokenKind.ACCESS),
            refresh_token=self.issue(user_id, TokenKind.REFRESH),
        )

    def issue(self, user_id: str, kind: TokenKind) -> str:
        now = datetime.now(UTC)
        claims = {
            "sub": user_id,
            "exp": int((now + self._lifetimes[kind]).timestamp()),
            "iat": int(now.timestamp()),
            # A random id makes every token unique, so a rotated token never equals a blocked one.
            "jti": uuid.uuid4().hex,
            "typ": kind.value,
        }
        return jwt.encode(claims, self._secrets[kind], algorithm=ALGORITHM)

    def decode(self, token: str, kind: TokenKind) -> TokenClaims:
        """Verify signature (HS256 only), expiry, required claims and kind; else `InvalidToken`."""
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
            claims = jwt.decode(
                token,
                self._secrets[kind],
                algorithms=[ALGORITHM],
                options={"require": ["sub", "exp"]},
            )
        except (jwt.PyJWTError, ValueError, TypeError):
            raise InvalidToken() from None
        subject, token_kind = claims.get("sub"), claims.get("typ", kind.value)
        if not isinstance(subject, str) or token_kind != kind.value:
            raise InvalidToken()
        token_id = claims.get("jti")
        return TokenClaims(
            subject=subject,
            token_id=token_id
            if isinstance(token_id, str) and 0 < len(token_id) <= 64
            else _fingerprint(token),
            expires_at=_expiry(claims["exp"]),
        )


def _expiry(exp: object) -> datetime:
    """`exp` as an instant. A validly signed token can still carry a claim of the wrong type
    or far outside what a clock can represent (`10**30`, a string): it is invalid, not a 500."""
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise InvalidToken()
    try:
        return datetime.fromtimestamp(exp, UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidToken() from None


def _fingerprint(token: str) -> str:
    """Blocklist key for a validly signed token that carries no `jti`."""
    return hashlib.sha256(token.encode()).hexdigest()
