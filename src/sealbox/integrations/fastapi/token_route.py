"""The route classes of the token endpoints: answers never stored, and RFC 6749 §5.2 errors
for malformed forms.

:class:`NoStoreRoute` adds ``Cache-Control: no-store`` and ``Pragma: no-cache`` to every
answer of a route, its errors included (RFC 6749 §5.1); :class:`TokenEndpointRoute` also
takes a form only and answers a malformed one with 400 ``invalid_request`` instead of
FastAPI's 422; :class:`AccountAnswerRoute` adds ``Cache-Control: no-store`` to the
successful answers of ``users/me``, which hold the account's data.
:mod:`sealbox.integrations.fastapi.router` mounts its routes with them, and re-exports them.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Final

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from sealbox.accounts.audit import AuditUnavailableError
from sealbox.exceptions import StoreUnavailableError
from sealbox.integrations.fastapi.client_auth import oauth_error, refuse_non_form
from sealbox.integrations.fastapi.errors import (
    ApiError,
    ErrorCode,
    audit_unavailable,
    error_response,
    store_unavailable,
)
from sealbox.integrations.fastapi.strict_json import StrictJSONRoute

__all__ = [
    "NO_STORE",
    "AccountAnswerRoute",
    "NoStoreRoute",
    "OAuthErrorBody",
    "StoreOutageRoute",
    "TokenEndpointRoute",
]

# RFC 6749 §5.1: an answer holding tokens carries both, and so do its errors here.
NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class StoreOutageRoute(StrictJSONRoute):
    """A :class:`StrictJSONRoute` whose store that does not answer
    (:class:`~sealbox.exceptions.StoreUnavailableError`) is raised as the :class:`ApiError`
    503 ``store_unavailable``, and whose audit log that cannot be written
    (:class:`~sealbox.accounts.audit.AuditUnavailableError`) as the 503
    ``audit_unavailable``: answered so by any app, not a 500 in one without sealbox's
    error handlers (and by sealbox's handlers as those errors' own handlers answer them)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except StoreUnavailableError as exc:
                raise store_unavailable(exc) from None
            except AuditUnavailableError:
                raise audit_unavailable() from None

        return route


class NoStoreRoute(StoreOutageRoute):
    """A route whose answers, its :class:`ApiError` answers included, are never stored
    (and whose JSON body may not give a member twice: :class:`StrictJSONRoute`).

    RFC 6749 §5.1 requires ``Cache-Control: no-store`` and ``Pragma: no-cache`` on an
    answer holding tokens or credentials. ``sealbox serve`` adds ``no-store`` to every
    answer; an app's own routes have no such middleware, so the route adds both, to the
    503 of a store that does not answer (:class:`StoreOutageRoute`) too.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                response = await handler(request)
            except ApiError as exc:  # a store's outage too (StoreOutageRoute)
                exc.headers = {**NO_STORE, **exc.headers}
                raise
            response.headers.update(NO_STORE)
            return response

        return route


class AccountAnswerRoute(APIRoute):
    """A route whose successful answers hold account data (``users/me``): ``Cache-Control:
    no-store``, so that no shared or browser cache keeps them.

    Its errors hold none and are left as they are. ``sealbox serve`` adds ``no-store`` to
    every answer already; an app's own routes have no such middleware.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            response = await handler(request)
            response.headers.setdefault("cache-control", "no-store")
            return response

        return route


class OAuthErrorBody(BaseModel):
    """An error of the token endpoint (RFC 6749 §5.2), as the OpenAPI document shows it."""

    error: str = Field(examples=["invalid_grant"])
    error_description: str
    message: str


class TokenEndpointRoute(NoStoreRoute):
    """A :class:`NoStoreRoute` that takes a form only, and whose malformed requests are RFC
    6749 §5.2 ``invalid_request`` (400).

    Which field is wrong and how is said; the value sent (perhaps a password) is not. The
    OpenAPI document shows its errors as RFC 6749 §5.2 errors, not FastAPI's 422, and the
    route answers them so itself, whatever handlers the app has: an OAuth client reads
    ``error``, which FastAPI's own answer (``{"detail": …}``, in an app without
    :func:`~sealbox.integrations.fastapi.install_error_handlers`) would not have. So is a
    store that does not answer, or an audit log that cannot be written (:class:`NoStoreRoute`'s
    503 ``store_unavailable`` and ``audit_unavailable``).
    """

    takes_json = False

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        kwargs["responses"] = {
            "4XX": {"model": OAuthErrorBody, "description": "An RFC 6749 §5.2 error"},
            **(kwargs.get("responses") or {}),
        }
        super().__init__(path, endpoint, **kwargs)

    def invalid(self, exc: RequestValidationError) -> Response:
        """A malformed form: RFC 6749 §5.2's 400 ``invalid_request``, not FastAPI's 422."""
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ())[1:]) or 'body'}: "
            f"{str(err.get('msg', '')).lower()}"
            for err in exc.errors()
        )
        raise oauth_error(
            400, ErrorCode.INVALID_REQUEST, f"the request is not valid: {problems}", **NO_STORE
        ) from None

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                refuse_non_form(request, **NO_STORE)  # before the body is parsed (no multipart)
                return await handler(request)
            except ApiError as exc:
                # RFC 6749 §5.2's body (and its headers: no-store, a challenge), answered
                # here: the app's handlers, or FastAPI's, would answer {"detail": …}.
                headers = {**NO_STORE, **exc.headers}
                return error_response(exc.status, exc.code, exc.message, headers, **exc.extra)

        return route
