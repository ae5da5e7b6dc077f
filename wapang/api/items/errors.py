from wapang.api.errors import ApiError


class ItemNotFound(ApiError):
    status_code, error_code, error_msg = 404, "ERR_013", "ITEM NOT FOUND"


class NotYourItem(ApiError):
    status_code, error_code, error_msg = 403, "ERR_014", "NOT YOUR ITEM"
