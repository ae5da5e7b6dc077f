from wapang.api.errors import ApiError, raised_for


@raised_for("uq_users_email", "uq_users_email_key")
class EmailAlreadyExists(ApiError):
    status_code, error_code, error_msg = 409, "ERR_004", "EMAIL ALREADY EXISTS"
