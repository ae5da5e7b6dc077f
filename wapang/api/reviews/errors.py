from wapang.api.errors import ApiError, raised_for


class NicknameNotSet(ApiError):
    status_code, error_code, error_msg = 422, "ERR_015", "NICKNAME NOT SET"


@raised_for("uq_reviews_writer_id_item_id")
class ReviewAlreadyExists(ApiError):
    status_code, error_code, error_msg = 409, "ERR_016", "REVIEW ALREADY EXISTS"


class ReviewNotFound(ApiError):
    status_code, error_code, error_msg = 404, "ERR_022", "REVIEW NOT FOUND"


class NotYourReview(ApiError):
    status_code, error_code, error_msg = 403, "ERR_023", "NOT YOUR REVIEW"
