from wapang.api.errors import ApiError


class EmptyCart(ApiError):
    status_code, error_code, error_msg = 422, "ERR_024", "EMPTY ITEM LIST"
