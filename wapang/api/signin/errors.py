from wapang.api.auth.errors import InvalidCredentials, InvalidToken
from wapang.api.errors import raised_for

__all__ = ["InvalidCredentials"]

# A refresh token used twice at once: the second block of its id loses on the blocklist's key.
raised_for("pk_blocked_tokens")(InvalidToken)
