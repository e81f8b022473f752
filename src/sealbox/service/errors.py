"""Error answers of the service: a stable code, a message, never a traceback or an input.

Every error response is JSON ``{"error": CODE, "message": TEXT}`` (plus ``details``
for validation errors: where and what, never the value that was sent, which may
be a password). ``CODE`` is one of :class:`ErrorCode` and does not change between
releases; ``message`` is for people and may.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import enum
import inspect
import logging

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import Scope

from sealbox.accounts.audit import AuditUnavailableError
from sealbox.exceptions import StoreUnavailableError
from sealbox.integrations.fastapi.errors import (
    ApiError,
    audit_unavailable_response,
    error_response,
    store_unavailable_response,
    validation_error_response,
)
from sealbox.integrations.fastapi.errors import ErrorCode as SignInErrorCode
from sealbox.integrations.fastapi.errors import (
    install_error_handlers as _install_library_handlers,
)
from sealbox.service.middleware import (
    INTERNAL_ERROR_BODY,
    INTERNAL_ERROR_HEADERS,
    UNSUPPORTED_MEDIA_TYPE,
    Header,
    log_unhandled,
    with_security_headers,
)

__all__ = [
    "ApiError",
    "ErrorCode",
    "audit_unavailable_response",
    "error_response",
    "install_error_handlers",
    "lean_refusal",
    "response_parts",
    "validation_error_response",
]

log = logging.getLogger("sealbox.service")


class ErrorCode(enum.StrEnum):
    """The stable error codes of the service's JSON errors.

    The codes of sign-in are the library's
    (:class:`sealbox.integrations.fastapi.errors.ErrorCode`), each written there once and
    taken from there; the rest are the service's own.
    """

    VALIDATION_ERROR = SignInErrorCode.VALIDATION_ERROR.value
    INVALID_REQUEST = SignInErrorCode.INVALID_REQUEST.value
    NOT_AUTHENTICATED = SignInErrorCode.NOT_AUTHENTICATED.value
    INVALID_TOKEN = SignInErrorCode.INVALID_TOKEN.value
    INSUFFICIENT_SCOPE = SignInErrorCode.INSUFFICIENT_SCOPE.value
    FORBIDDEN = SignInErrorCode.FORBIDDEN.value
    INVALID_CREDENTIALS = SignInErrorCode.INVALID_CREDENTIALS.value
    INVALID_GRANT = SignInErrorCode.INVALID_GRANT.value
    USERNAME_TAKEN = SignInErrorCode.USERNAME_TAKEN.value
    WEAK_PASSWORD = SignInErrorCode.WEAK_PASSWORD.value
    REGISTRATION_CLOSED = SignInErrorCode.REGISTRATION_CLOSED.value
    TOO_MANY_REQUESTS = SignInErrorCode.TOO_MANY_REQUESTS.value
    PAYLOAD_TOO_LARGE = SignInErrorCode.PAYLOAD_TOO_LARGE.value
    # 415: a body that is not JSON on a JSON route (sealbox.service.middleware).
    UNSUPPORTED_MEDIA_TYPE = UNSUPPORTED_MEDIA_TYPE
    NOT_FOUND = SignInErrorCode.NOT_FOUND.value
    METHOD_NOT_ALLOWED = SignInErrorCode.METHOD_NOT_ALLOWED.value
    CLIENT_CERTIFICATE_REQUIRED = SignInErrorCode.CLIENT_CERTIFICATE_REQUIRED.value
    INTERNAL_ERROR = SignInErrorCode.INTERNAL_ERROR.value
    # Account administration (/users, scope users:admin).
    ACCOUNT_NOT_FOUND = "account_not_found"
    OWN_ACCOUNT = "own_account"
    # The change would leave no enabled account holding users:admin.
    LAST_ADMIN = "last_admin"
    IMPORT_REFUSED = "import_refused"
    # Transit (encryption as a service).
    KEY_EXISTS = "key_exists"
    INVALID_CIPHERTEXT = "invalid_ciphertext"
    INVALID_KEY_VERSION = "invalid_key_version"
    KEY_VERSION_TOO_OLD = "key_version_too_old"
    DECRYPTION_FAILED = "decryption_failed"
    UNSUPPORTED_OPERATION = "unsupported_operation"
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
    DELETION_NOT_ALLOWED = "deletion_not_allowed"
    NOT_EXPORTABLE = "not_exportable"
    BATCH_FAILED = "batch_failed"
    BATCH_TOO_LARGE = "batch_too_large"
    AUDIT_UNAVAILABLE = SignInErrorCode.AUDIT_UNAVAILABLE.value
    # A change made whose audit record could not be written, nor the change undone.
    AUDIT_INCOMPLETE = "audit_incomplete"
    STORE_UNAVAILABLE = SignInErrorCode.STORE_UNAVAILABLE.value
    # An account change made whose end of the account's sessions Redis did not take.
    REVOCATION_INCOMPLETE = "revocation_incomplete"
    KEYS_UNAVAILABLE = SignInErrorCode.KEYS_UNAVAILABLE.value
    # Answered by the connection layer (sealbox.service.connection) to slow or odd clients.
    REQUEST_TIMEOUT = "request_timeout"
    HEADERS_TOO_LARGE = "headers_too_large"
    # RFC 6749 §5.2, answered by the token endpoint.
    UNSUPPORTED_GRANT_TYPE = SignInErrorCode.UNSUPPORTED_GRANT_TYPE.value
    INVALID_SCOPE = SignInErrorCode.INVALID_SCOPE.value
    # OAuth 2 clients, revocation, introspection (RFC 6749 §5.2, RFC 7009 §2.2.1).
    INVALID_CLIENT = SignInErrorCode.INVALID_CLIENT.value
    UNAUTHORIZED_CLIENT = "unauthorized_client"
    USER_TOKEN_REQUIRED = SignInErrorCode.USER_TOKEN_REQUIRED.value
    CLIENT_NOT_FOUND = "client_not_found"
    CLIENT_EXISTS = "client_exists"
    CLIENT_BUSY = "client_busy"
    # The TOTP second factor (sealbox.service.routes.totp, and the token endpoint).
    MFA_REQUIRED = SignInErrorCode.MFA_REQUIRED.value
    TOTP_CODE_INVALID = "totp_code_invalid"
    TOTP_ALREADY_ENABLED = "totp_already_enabled"
    TOTP_NOT_PENDING = "totp_not_pending"
    TOTP_NOT_ENABLED = "totp_not_enabled"


def install_error_handlers(app: FastAPI) -> None:
    """Map every exception the app can meet to a JSON error."""
    # Unexpected errors are answered by InternalErrorMiddleware (see middleware.py), not
    # by an Exception handler: Starlette re-raises after such a handler, and the server
    # then logs a traceback and closes the keep-alive connection.
    _install_library_handlers(app, internal_errors=False)
    answer_http_error = app.exception_handlers[StarletteHTTPException]

    async def _http(request: Request, exc: Exception) -> Response:
        if isinstance(exc, StarletteHTTPException) and exc.status_code == 405 and exc.headers:
            allow = _with_head(exc.headers.get("Allow", ""))
            exc = StarletteHTTPException(405, exc.detail, {**exc.headers, "Allow": allow})
        response = answer_http_error(request, exc)
        return await response if inspect.isawaitable(response) else response

    app.add_exception_handler(StarletteHTTPException, _http)


def _with_head(allow: str) -> str:
    """An ``Allow`` value listing ``HEAD`` wherever it lists ``GET``, in name order: every
    path that answers ``GET`` answers ``HEAD`` (:class:`~sealbox.service.app.ServiceApp`),
    which the routes do not list themselves."""
    methods = [m.strip() for m in allow.split(",") if m.strip()]
    if "GET" not in methods or "HEAD" in methods:
        return allow
    return ", ".join(sorted([*methods, "HEAD"]))


def lean_refusal(
    scope: Scope, exc: Exception, extra: tuple[Header, ...]
) -> tuple[int, list[Header], bytes]:
    """The answer of an entry ahead of the middlewares to ``exc``, as the routes give it.

    An :class:`ApiError`, an unwritable audit log or a Redis or database that does not
    answer is answered as its handler answers; anything else is the internal-error 500,
    logged as the middleware logs it (type, method, path: no message). ``extra``, the
    security headers, are added as the middleware adds them.
    """
    if isinstance(exc, ApiError):
        response = error_response(exc.status, exc.code, exc.message, exc.headers, **exc.extra)
    elif isinstance(exc, AuditUnavailableError):
        response = audit_unavailable_response()
    elif isinstance(exc, StoreUnavailableError):
        response = store_unavailable_response(exc)
    else:
        log_unhandled(scope, exc)
        return 500, with_security_headers(list(INTERNAL_ERROR_HEADERS), extra), INTERNAL_ERROR_BODY
    status, headers, body = response_parts(response)
    return status, with_security_headers(headers, extra), body


def response_parts(response: Response) -> tuple[int, list[Header], bytes]:
    """A Starlette response's status, headers and body, to send them as they are."""
    return int(response.status_code), list(response.raw_headers), bytes(response.body)
