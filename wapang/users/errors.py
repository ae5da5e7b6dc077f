from wapang.errors import ApiError


class EmailAlreadyExists(ApiError):
    status_code, error_code, error_msg = 409, "ERR_004", "EMAIL ALREADY EXISTS"
