"""Typed API errors and the one place that turns every failure into the contract's JSON body.

Each domain declares its errors (`users/errors.py`, ...) as subclasses of `ApiError`; handlers
registered here render them, framework errors (validation, unknown route, wrong method) and
database outages as `{"error_code": ..., "error_msg": ...}`. Nothing else reaches a client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from wapang.api.request_context import request_id
from wapang.db.constraints import violated_constraint

logger = logging.getLogger("wapang.api.errors")


class ApiError(Exception):
    status_code: ClassVar[int]
    error_code: ClassVar[str]
    error_msg: ClassVar[str]

    def __init__(self) -> None:
        super().__init__(f"{self.error_code} {self.error_msg}")

    @classmethod
    def body(cls) -> dict[str, str]:
        return {"error_code": cls.error_code, "error_msg": cls.error_msg}


ErrorT = TypeVar("ErrorT", bound=type[ApiError])
_CONFLICTS: dict[str, type[ApiError]] = {}


def raised_for(*constraints: str) -> Callable[[ErrorT], ErrorT]:
    """Declares the error a broken unique key means. The database settles every race between
    a check and an insert; whichever request loses is answered with this error, not a 500."""

    def register(error: ErrorT) -> ErrorT:
        for name in constraints:
            _CONFLICTS[name] = error
        return error

    return register


class UnexpectedError(ApiError):
    status_code, error_code, error_msg = 500, "ERR_000", "Unexpected error occurred"


class MissingRequiredFields(ApiError):
    status_code, error_code, error_msg = 400, "ERR_002", "MISSING REQUIRED FIELDS"


class InvalidFieldFormat(ApiError):
    status_code, error_code, error_msg = 400, "ERR_003", "INVALID FIELD FORMAT"


# Errors outside the contract's table keep its shape, with the HTTP status as their number.
class RouteNotFound(ApiError):
    status_code, error_code, error_msg = 404, "ERR_404", "NOT FOUND"


class MethodNotAllowed(ApiError):
    status_code, error_code, error_msg = 405, "ERR_405", "METHOD NOT ALLOWED"


class PayloadTooLarge(ApiError):
    status_code, error_code, error_msg = 413, "ERR_413", "PAYLOAD TOO LARGE"


class ServiceUnavailable(ApiError):
    status_code, error_code, error_msg = 503, "ERR_503", "SERVICE UNAVAILABLE"


def error_response(
    error: type[ApiError] | ApiError, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status_code, headers=headers)


def validation_error_class(errors: list[Any]) -> type[ApiError]:
    """A missing field anywhere wins over every other problem (contract §1.6)."""
    if any(error.get("type") == "missing" for error in errors):
        return MissingRequiredFields
    return InvalidFieldFormat


HTTP_STATUS_ERRORS: dict[int, type[ApiError]] = {
    400: InvalidFieldFormat,
    404: RouteNotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
    503: ServiceUnavailable,
}


def register_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> JSONResponse:
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        return error_response(validation_error_class(list(error.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        mapped = HTTP_STATUS_ERRORS.get(error.status_code, UnexpectedError)
        return error_response(mapped, headers=getattr(error, "headers", None))

    @app.exception_handler(IntegrityError)
    async def constraint_violated(_: Request, error: IntegrityError) -> JSONResponse:
        conflict = _CONFLICTS.get(violated_constraint(error) or "")
        if conflict is None:
            logger.exception("integrity error without a contract error")
            return error_response(UnexpectedError)
        return error_response(conflict)

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeoutError)
    @app.exception_handler(ConnectionError)
    @app.exception_handler(TimeoutError)
    async def database_unavailable(_: Request, error: Exception) -> JSONResponse:
        # The driver's own reason (code and message, never the statement's values) is what the
        # operator needs: a refused connection, a deadlock, a lost server.
        reason = getattr(error, "orig", None) or error
        logger.warning("database unavailable: %s: %s", type(error).__name__, reason)
        return error_response(ServiceUnavailable, headers={"Retry-After": "5"})

    @app.exception_handler(DBAPIError)
    async def database_error(_: Request, error: DBAPIError) -> JSONResponse:
        if error.connection_invalidated:
            logger.warning("database connection lost")
            return error_response(ServiceUnavailable, headers={"Retry-After": "5"})
        logger.exception("database error")
        return error_response(UnexpectedError)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, error: Exception) -> JSONResponse:
        logger.exception("unexpected error")
        # Answered by Starlette's outermost middleware, outside ResponseHeaders.
        return error_response(UnexpectedError, headers={"X-Request-ID": request_id.get()})
