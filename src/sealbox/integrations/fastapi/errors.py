"""JSON errors: a stable code, a message, never a traceback or an input.

Every error the dependencies and routes of :mod:`sealbox.integrations.fastapi` answer
is JSON ``{"error": CODE, "message": TEXT}`` (plus ``details`` for validation errors:
where and what, never the value that was sent, which may be a password; plus
RFC 6749 §5.2's ``error_description`` from the token endpoint). ``CODE`` is one of
:class:`ErrorCode` and does not change between releases; ``message`` is for people
and may. :func:`install_error_handlers` makes an app answer so.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sealbox.accounts.audit import AuditUnavailableError
from sealbox.exceptions import StoreUnavailableError
from sealbox.secret import redact

log = logging.getLogger("sealbox.integrations.fastapi")

__all__ = [
    "ApiError",
    "ErrorCode",
    "audit_unavailable",
    "audit_unavailable_response",
    "error_response",
    "install_error_handlers",
    "store_unavailable",
    "store_unavailable_response",
    "validation_error_response",
]


class ErrorCode(enum.StrEnum):
    """The stable error codes of sign-in and its dependencies."""

    VALIDATION_ERROR = "validation_error"
    INVALID_REQUEST = "invalid_request"
    NOT_AUTHENTICATED = "not_authenticated"
    INVALID_TOKEN = "invalid_token"  # noqa: S105
    INSUFFICIENT_SCOPE = "insufficient_scope"
    # A 403 an app raised itself (HTTPException): not a scope the token lacks.
    FORBIDDEN = "forbidden"
    INVALID_CREDENTIALS = "invalid_credentials"
    INVALID_GRANT = "invalid_grant"
    USERNAME_TAKEN = "username_taken"
    WEAK_PASSWORD = "weak_password"  # noqa: S105
    REGISTRATION_CLOSED = "registration_closed"
    TOO_MANY_REQUESTS = "too_many_requests"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    # 415: a body that is not JSON on a JSON route (RFC 9110 §15.5.16).
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CLIENT_CERTIFICATE_REQUIRED = "client_certificate_required"
    AUDIT_UNAVAILABLE = "audit_unavailable"
    STORE_UNAVAILABLE = "store_unavailable"
    # The issuer's key set could not be fetched (down, or its certificate or key refused).
    KEYS_UNAVAILABLE = "keys_unavailable"
    # RFC 6749 §5.2, answered by the token endpoint.
    UNSUPPORTED_GRANT_TYPE = "unsupported_grant_type"
    INVALID_SCOPE = "invalid_scope"
    INVALID_CLIENT = "invalid_client"
    # A route of an account answered to a machine client's token.
    USER_TOKEN_REQUIRED = "user_token_required"  # noqa: S105
    # The password was right; the account's second factor needs a code (``otp``).
    MFA_REQUIRED = "mfa_required"
    # A 5xx an app raised itself (HTTPException): the server failed, not the request.
    INTERNAL_ERROR = "internal_error"


_STATUS_CODES = {
    400: ErrorCode.INVALID_REQUEST,
    401: ErrorCode.NOT_AUTHENTICATED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    429: ErrorCode.TOO_MANY_REQUESTS,
}


class ApiError(StarletteHTTPException):
    """Raise from a route or dependency to answer with a JSON error.

    ``code`` is a member of :class:`ErrorCode` (or of an app's own ``StrEnum`` of codes).
    It is an ``HTTPException``: in an app without :func:`install_error_handlers`, FastAPI
    (or the app's own handler) answers it with its status, headers and message, not a 500.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.headers: dict[str, str]  # a dict, never None (HTTPException allows None)
        # A message may quote what the client sent (a name from the path): a token pasted
        # there is hidden, here, so that no handler, FastAPI's own included, answers it.
        message = redact(message)
        super().__init__(status, message, headers or {})
        self.args = (message,)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra or {}

    def __str__(self) -> str:
        return self.message


def error_response(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """The JSON error body every error answer uses; a secret in ``message`` (a registered
    one, or a token or key by its shape) is hidden."""
    return JSONResponse(
        {"error": str(code), "message": redact(message), **extra},
        status_code=status,
        headers=headers,
    )


def audit_unavailable_response() -> JSONResponse:
    """503 for a request whose audit record could not be written (fail-closed)."""
    refused = audit_unavailable()
    return error_response(refused.status, refused.code, refused.message, refused.headers)


def audit_unavailable() -> ApiError:
    """:func:`audit_unavailable_response`'s answer as an :class:`ApiError`: what a route
    raises, so that an app without :func:`install_error_handlers` answers it 503 too
    (FastAPI's way), not 500. Why the log cannot be written is the operator's: the audit
    log said it on stderr, and the client learns only that it was refused."""
    return ApiError(
        503,
        ErrorCode.AUDIT_UNAVAILABLE,
        "the audit log cannot be written; the request was refused",
        headers={"Retry-After": "30"},
    )


def store_unavailable_response(exc: StoreUnavailableError) -> JSONResponse:
    """503 for a request that needed Redis or the database when it did not answer
    (fail-closed), logged as one warning line: the message names the server, what was
    being done and the driver's exception class, never an address, statement or value;
    what a server refused (a role, a database's name) is in the log line only."""
    refused = store_unavailable(exc)
    return error_response(refused.status, refused.code, refused.message, refused.headers)


# What a server refused when it did not let the service's connection in (the credentials,
# the database's name, no connection slot left); other refusals are of a request.
_REFUSED_AT_LOGIN: Final = frozenset({"credentials", "database", "connections"})


def store_unavailable(exc: StoreUnavailableError) -> ApiError:
    """:func:`store_unavailable_response`'s answer as an :class:`ApiError`, logged the same
    way: what a dependency raises, so that an app without :func:`install_error_handlers`
    answers it 503 too (FastAPI's way), not 500."""
    log.warning("answered 503 store_unavailable: %s", exc)
    if exc.code == "disk_full" and exc.facts.get("change") == "made":
        # Refused after the change committed (the revocation lists' write that follows a
        # logout, a revocation, a deletion): saying "nothing was done" would have the
        # client believe its session or token lives on. Sent again, it would do no more.
        return ApiError(
            503,
            ErrorCode.STORE_UNAVAILABLE,
            "the change is made, but the service cannot store the refusal of the access "
            "tokens it ends (its disk is full): they may pass until they expire; the "
            "request needs no retry",
        )
    if exc.code == "disk_full":
        # The database's disk is full: the log names the file; the client learns that
        # nothing was done and that the same request may be sent again later.
        said = "the service cannot store the change now (its disk is full); nothing was done"
        return ApiError(
            503,
            ErrorCode.STORE_UNAVAILABLE,
            f"{said}: try again later",
            headers={"Retry-After": "30"},
        )
    # A refusal is the operator's to mend (a password, a role, a database's name, a
    # read-only server, a Redis out of memory): the log says which; the client learns only
    # that the service cannot use its store now.
    if exc.refused is None:
        said = f"{exc}: try again once it answers"
    else:
        at_login = exc.facts.get("failed") in _REFUSED_AT_LOGIN
        what = "the service's connection" if at_login else "the request"
        said = f"{exc.store} refused {what} while {exc.operation}: try again later"
    return ApiError(503, ErrorCode.STORE_UNAVAILABLE, said, headers={"Retry-After": "5"})


def validation_error_response(errors: Sequence[Any], prefix: tuple[str, ...] = ()) -> JSONResponse:
    """The 422 answer for pydantic/FastAPI validation errors: where and what, never the value."""
    details = [
        {
            "loc": [*prefix, *(str(p) for p in err.get("loc", ()))],
            "type": str(err.get("type", "")),
            "message": str(err.get("msg", "")),
        }
        for err in errors
    ]
    return error_response(
        422, ErrorCode.VALIDATION_ERROR, "the request is not valid", details=details
    )


# FastAPI's detail for a request body its JSON parsing raised on (other than a decode error).
_BODY_NOT_PARSED: Final = "There was an error parsing the body"


# The handlers every FastAPI app starts with: install_error_handlers replaces these, and
# keeps any other, which the app registered itself.
_FASTAPI_DEFAULTS: Final[dict[Any, Any]] = {
    StarletteHTTPException: http_exception_handler,
    RequestValidationError: request_validation_exception_handler,
}


def _add(app: FastAPI, key: Any, handler: Any) -> None:
    """``handler`` for ``key``, unless the app registered one of its own."""
    current = app.exception_handlers.get(key)
    if current is None or current is _FASTAPI_DEFAULTS.get(key):
        app.add_exception_handler(key, handler)


def install_error_handlers(app: FastAPI, *, internal_errors: bool = True) -> None:
    """Answer :class:`ApiError`, audit failures, validation and HTTP errors as JSON errors.

    A handler the app registered itself for one of these (its own ``HTTPException`` or
    ``RequestValidationError`` answers, say) is kept, whether registered before or after:
    only FastAPI's defaults are replaced. sealbox's own refusals are :class:`ApiError`,
    whose handler is looked up before the ``HTTPException`` one, so they keep their shape.

    Args:
        internal_errors: answer an exception no handler takes with the JSON 500
            ``internal_error`` (never its text), rather than Starlette's plain-text one.
            Starlette raises the exception again once it is answered, so the server logs
            it as before. ``False`` for an app whose own middleware answers them (or
            whose own handler for ``Exception`` or 500 does).
    """

    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.headers, **exc.extra)

    async def _audit(_request: Request, _exc: AuditUnavailableError) -> JSONResponse:
        return audit_unavailable_response()

    async def _store(_request: Request, exc: StoreUnavailableError) -> JSONResponse:
        return store_unavailable_response(exc)

    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_error_response(exc.errors())

    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == _BODY_NOT_PARSED:
            # FastAPI's answer to a JSON body that is not UTF-8, or nests past the parser's
            # depth; a body that is not JSON at all is a 422: so are these.
            return validation_error_response(
                [{"loc": ("body",), "type": "json_invalid", "msg": "the body is not JSON text"}]
            )
        code = _STATUS_CODES.get(exc.status_code) or (
            ErrorCode.INTERNAL_ERROR if exc.status_code >= 500 else ErrorCode.INVALID_REQUEST
        )
        message = exc.detail if isinstance(exc.detail, str) else code.value.replace("_", " ")
        return error_response(exc.status_code, code, message, dict(exc.headers or {}))

    async def _internal(_request: Request, _exc: Exception) -> JSONResponse:
        return error_response(500, ErrorCode.INTERNAL_ERROR, "internal error")

    _add(app, ApiError, _api_error)
    _add(app, AuditUnavailableError, _audit)
    _add(app, StoreUnavailableError, _store)
    _add(app, RequestValidationError, _validation)
    _add(app, StarletteHTTPException, _http)
    # Starlette takes a handler for 500 as the one for Exception.
    if internal_errors and 500 not in app.exception_handlers:
        _add(app, Exception, _internal)
