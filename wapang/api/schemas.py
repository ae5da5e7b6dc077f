"""Field types and base models shared by every domain's request and response schemas."""

from __future__ import annotations

from typing import Annotated, Any, Self

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from wapang.db.base import EMAIL_MAX_LENGTH, INT32_MAX


def _valid_email_syntax(value: str) -> str:
    """Checks the syntax only (no DNS); the address is kept exactly as the client sent it."""
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError("not a valid e-mail address") from error
    return value


Email = Annotated[str, Field(max_length=EMAIL_MAX_LENGTH), AfterValidator(_valid_email_syntax)]
# [0-9] rather than \d: \d also matches other scripts' digits.
PhoneNumber = Annotated[str, Field(pattern=r"^010-[0-9]{4}-[0-9]{4}$")]
# Amounts and stock fit the database's 32-bit integer columns; larger values are ERR_003.
Amount = Annotated[int, Field(ge=0, le=INT32_MAX)]


class RequestModel(BaseModel):
    """Strict JSON types: "5" is not an integer and 5.0 is not either (contract §1.5)."""

    model_config = ConfigDict(strict=True, extra="ignore")


class PatchModel(RequestModel):
    """Every field optional, none nullable, and at least one updatable field present."""

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(data.get(name, ...) is None for name in cls.model_fields):
            raise ValueError("null is not accepted for any field")
        return data

    @model_validator(mode="after")
    def _at_least_one_field(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("no updatable field present")
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)
