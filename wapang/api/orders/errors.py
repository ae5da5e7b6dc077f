from wapang.api.errors import ApiError


class NotEnoughStock(ApiError):
    status_code, error_code, error_msg = 409, "ERR_017", "NOT ENOUGH STOCK"


class EmptyItemList(ApiError):
    status_code, error_code, error_msg = 422, "ERR_018", "EMPTY ITEM LIST"


class OrderNotFound(ApiError):
    status_code, error_code, error_msg = 404, "ERR_019", "ORDER NOT FOUND"


class NotYourOrder(ApiError):
    status_code, error_code, error_msg = 403, "ERR_020", "NOT YOUR ORDER"


class InvalidOrderStatus(ApiError):
    status_code, error_code, error_msg = 409, "ERR_021", "INVALID ORDER STATUS"
