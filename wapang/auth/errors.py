from wapang.errors import ApiError


class InvalidCredentials(ApiError):
    status_code, error_code, error_msg = 401, "ERR_001", "Invalid account credentials"


class Unauthenticated(ApiError):
    status_code, error_code, error_msg = 401, "ERR_005", "UNAUTHENTICATED"


class BadAuthorizationHeader(ApiError):
    status_code, error_code, error_msg = 400, "ERR_006", "BAD AUTHORIZATION HEADER"


class InvalidToken(ApiError):
    status_code, error_code, error_msg = 401, "ERR_007", "INVALID TOKEN"
