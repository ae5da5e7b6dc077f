from wapang.api.auth.errors import InvalidToken
from wapang.api.errors import ApiError, raised_for


class InvalidCredentials(ApiError):
    status_code, error_code, error_msg = 401, "ERR_001", "Invalid account credentials"


# A refresh token used twice at once: the second block of its id loses on the blocklist's key.
raised_for("pk_blocked_tokens")(InvalidToken)
