from wapang.api.errors import ApiError, raised_for


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


class IdempotencyKeyReused(ApiError):
    status_code, error_code, error_msg = 422, "ERR_026", "IDEMPOTENCY KEY REUSED"


# A request that finds the key's row being inserted by a concurrent one waits on the key,
# then loses on it: the first request was running when this one came in.
@raised_for("pk_idempotent_requests")
class RequestInProgress(ApiError):
    status_code, error_code, error_msg = 409, "ERR_027", "REQUEST IN PROGRESS"


class PriceChanged(ApiError):
    status_code, error_code, error_msg = 409, "ERR_028", "PRICE CHANGED"
