"""The Authorization header's errors (contract §1.4), in the order they are checked."""

import math

from wapang.api.errors import ApiError


class InvalidCredentials(ApiError):
    """A sign-in, or a password change, with a password that does not match."""

    status_code, error_code, error_msg = 401, "ERR_001", "Invalid account credentials"


class Unauthenticated(ApiError):
    status_code, error_code, error_msg = 401, "ERR_005", "UNAUTHENTICATED"


class BadAuthorizationHeader(ApiError):
    status_code, error_code, error_msg = 400, "ERR_006", "BAD AUTHORIZATION HEADER"


class InvalidToken(ApiError):
    status_code, error_code, error_msg = 401, "ERR_007", "INVALID TOKEN"


class TooManyRequests(ApiError):
    """Throttled (contract 14.2): always with `Retry-After`, whole seconds."""

    status_code, error_code, error_msg = 429, "ERR_025", "TOO MANY REQUESTS"

    def __init__(self, retry_after: float) -> None:
        super().__init__()
        self.retry_after = max(1, math.ceil(retry_after))

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}
