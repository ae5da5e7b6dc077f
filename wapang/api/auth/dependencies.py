"""Who is calling: the Authorization header checks of contract §1.4, in their order.

absent → ERR_005, not `Bearer <token>` → ERR_006, token not acceptable → ERR_007. What a valid
token names (a user, a refresh session) is up to the domain that owns it: it subclasses
`Authentication`. Routers that have protected endpoints use `AuthenticatedFirst` as their
route class, so the authentication error outranks a malformed body (§1.6).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine, Iterator
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Request, Response, Security
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection

from wapang.api.auth.errors import BadAuthorizationHeader, Unauthenticated
from wapang.api.auth.tokens import TokenService
from wapang.db.reader import ReadPool
from wapang.db.sessions import Database

CallerT = TypeVar("CallerT")


class _RawHeader(APIKeyHeader):
    """Documents the header in OpenAPI; the parsing below is ours, so the contract's errors apply.
    Unlike `APIKeyHeader` it keeps an empty value: `Authorization:` is malformed, not absent."""

    async def __call__(self, request: HTTPConnection) -> str | None:
        return request.headers.get(self.model.name)


authorization_header = _RawHeader(name="Authorization", auto_error=False)
AuthorizationHeader = Annotated[str | None, Security(authorization_header)]


def bearer_token(header: str) -> str:
    parts = header.split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        raise BadAuthorizationHeader()
    return parts[1]


def token_service(request: Request) -> TokenService:
    tokens: TokenService = request.app.state.tokens
    return tokens


class Authentication(ABC, Generic[CallerT]):
    """A dependency naming the caller: the header checks in the contract's order, then
    `identify` for what a well-formed bearer token must prove."""

    async def __call__(self, request: Request, header: AuthorizationHeader) -> CallerT:
        # The read pool from the app's state, not as a `Reads` sub-dependency: FastAPI's
        # resolution of one costs more than the lookup, on every authenticated request.
        database: Database = request.app.state.database
        return await self.authenticate(request, database.reads, header)

    async def authenticate(self, request: Request, reads: ReadPool, header: str | None) -> CallerT:
        if header is None:
            return self.anonymous()
        return await self.identify(request, reads, bearer_token(header))

    def anonymous(self) -> CallerT:
        """No header at all: ERR_005, unless the endpoint also serves anonymous callers."""
        raise Unauthenticated()

    @abstractmethod
    async def identify(self, request: Request, reads: ReadPool, token: str) -> CallerT:
        """The caller a bearer token names; `InvalidToken` when it names nobody."""


class AuthenticatedFirst(APIRoute):
    """A route whose authentication is reported before a body that does not parse or validate.

    FastAPI parses the body before it runs dependencies, so a malformed body would otherwise
    answer 400 to a caller who is not even authenticated. On such a failure the route runs its
    `Authentication` itself and lets the authentication error win.
    """

    @property
    def authentication(self) -> Authentication[Any] | None:
        return next(
            (call for call in _calls(self.dependant) if isinstance(call, Authentication)), None
        )

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        authentication = self.authentication
        if authentication is None:
            return handler

        async def authenticated_first(request: Request) -> Response:
            try:
                return await handler(request)
            except (RequestValidationError, HTTPException) as error:
                if isinstance(error, HTTPException) and error.status_code != 400:
                    raise
                database: Database = request.app.state.database
                header = request.headers.get("Authorization")
                await authentication.authenticate(request, database.reads, header)
                raise

        return authenticated_first


def _calls(dependant: Dependant) -> Iterator[object]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)
