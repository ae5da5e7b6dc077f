from wapang.errors import ApiError, raised_for


class InvalidCredentials(ApiError):
    status_code, error_code, error_msg = 401, "ERR_001", "Invalid account credentials"


class Unauthenticated(ApiError):
    status_code, error_code, error_msg = 401, "ERR_005", "UNAUTHENTICATED"


class BadAuthorizationHeader(ApiError):
    status_code, error_code, error_msg = 400, "ERR_006", "BAD AUTHORIZATION HEADER"


# A refresh token used twice at once: the second block of its id loses.
@raised_for("pk_blocked_tokens")
class InvalidToken(ApiError):
    status_code, error_code, error_msg = 401, "ERR_007", "INVALID TOKEN"
