from wapang.api.errors import ApiError, raised_for


@raised_for("uq_stores_owner_id")
class StoreAlreadyExists(ApiError):
    status_code, error_code, error_msg = 409, "ERR_008", "STORE ALREADY EXISTS"


@raised_for(
    "uq_stores_store_name",
    "uq_stores_store_name_key",
    "uq_stores_email",
    "uq_stores_email_key",
    "uq_stores_phone_number",
)
class StoreInfoConflict(ApiError):
    status_code, error_code, error_msg = 409, "ERR_009", "STORE INFO CONFLICT"


class StoreNotFound(ApiError):
    status_code, error_code, error_msg = 404, "ERR_010", "STORE NOT FOUND"


class NoStoreOwned(ApiError):
    status_code, error_code, error_msg = 403, "ERR_011", "NO STORE OWNED"


class NotYourStore(ApiError):
    status_code, error_code, error_msg = 403, "ERR_012", "NOT YOUR STORE"
