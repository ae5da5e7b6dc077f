"""The Authorization header's errors (contract §1.4), in the order they are checked."""

from wapang.api.errors import ApiError


class Unauthenticated(ApiError):
    status_code, error_code, error_msg = 401, "ERR_005", "UNAUTHENTICATED"


class BadAuthorizationHeader(ApiError):
    status_code, error_code, error_msg = 400, "ERR_006", "BAD AUTHORIZATION HEADER"


class InvalidToken(ApiError):
    status_code, error_code, error_msg = 401, "ERR_007", "INVALID TOKEN"
