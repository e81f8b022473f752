"""Error answers of the service: a stable code, a message, never a traceback or an input.

Every error response is JSON ``{"error": CODE, "message": TEXT}`` (plus ``details``
for validation errors: where and what, never the value that was sent, which may
be a password). ``CODE`` is one of :class:`ErrorCode` and does not change between
releases; ``message`` is for people and may.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sealbox.service.audit import AuditUnavailableError

__all__ = [
    "ApiError",
    "ErrorCode",
    "error_response",
    "install_error_handlers",
    "validation_error_response",
]

log = logging.getLogger("sealbox.service")


class ErrorCode(enum.StrEnum):
    """The stable error codes of the service's JSON errors."""

    VALIDATION_ERROR = "validation_error"
    INVALID_REQUEST = "invalid_request"
    NOT_AUTHENTICATED = "not_authenticated"
    INVALID_TOKEN = "invalid_token"  # noqa: S105
    INSUFFICIENT_SCOPE = "insufficient_scope"
    INVALID_CREDENTIALS = "invalid_credentials"
    INVALID_GRANT = "invalid_grant"
    USERNAME_TAKEN = "username_taken"
    WEAK_PASSWORD = "weak_password"  # noqa: S105
    REGISTRATION_CLOSED = "registration_closed"
    TOO_MANY_REQUESTS = "too_many_requests"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CLIENT_CERTIFICATE_REQUIRED = "client_certificate_required"
    INTERNAL_ERROR = "internal_error"
    # Account administration (/users, scope users:admin).
    ACCOUNT_NOT_FOUND = "account_not_found"
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
    AUDIT_UNAVAILABLE = "audit_unavailable"
    # Answered by the connection layer (sealbox.service.connection) to slow or odd clients.
    REQUEST_TIMEOUT = "request_timeout"
    HEADERS_TOO_LARGE = "headers_too_large"
    # RFC 6749 §5.2, answered by the token endpoint.
    UNSUPPORTED_GRANT_TYPE = "unsupported_grant_type"
    INVALID_SCOPE = "invalid_scope"
    # OAuth 2 clients, revocation, introspection (RFC 6749 §5.2, RFC 7009 §2.2.1).
    INVALID_CLIENT = "invalid_client"
    UNAUTHORIZED_CLIENT = "unauthorized_client"
    USER_TOKEN_REQUIRED = "user_token_required"  # noqa: S105
    CLIENT_NOT_FOUND = "client_not_found"
    CLIENT_EXISTS = "client_exists"
    # The TOTP second factor (sealbox.service.routes.totp, and the token endpoint).
    MFA_REQUIRED = "mfa_required"
    TOTP_CODE_INVALID = "totp_code_invalid"
    TOTP_ALREADY_ENABLED = "totp_already_enabled"
    TOTP_NOT_PENDING = "totp_not_pending"
    TOTP_NOT_ENABLED = "totp_not_enabled"


_STATUS_CODES = {
    400: ErrorCode.INVALID_REQUEST,
    401: ErrorCode.NOT_AUTHENTICATED,
    403: ErrorCode.INSUFFICIENT_SCOPE,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    429: ErrorCode.TOO_MANY_REQUESTS,
}


class ApiError(Exception):
    """Raise from a route to answer with a JSON error."""

    def __init__(
        self,
        status: int,
        code: ErrorCode,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.extra = extra or {}


def error_response(
    status: int,
    code: ErrorCode,
    message: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """The JSON error body every error answer uses."""
    return JSONResponse(
        {"error": code.value, "message": message, **extra}, status_code=status, headers=headers
    )


def audit_unavailable_response() -> JSONResponse:
    """503 for a request whose audit record could not be written (fail-closed)."""
    return error_response(
        503,
        ErrorCode.AUDIT_UNAVAILABLE,
        "the audit log cannot be written; the request was refused",
        {"Retry-After": "30"},
    )


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


def install_error_handlers(app: FastAPI) -> None:
    """Map every exception the app can meet to a JSON error."""

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.headers, **exc.extra)

    @app.exception_handler(AuditUnavailableError)
    async def _audit(_request: Request, _exc: AuditUnavailableError) -> JSONResponse:
        return audit_unavailable_response()

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_error_response(exc.errors())

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, ErrorCode.INVALID_REQUEST)
        message = exc.detail if isinstance(exc.detail, str) else code.value.replace("_", " ")
        return error_response(exc.status_code, code, message, dict(exc.headers or {}))

    # Unexpected errors are answered by InternalErrorMiddleware (see middleware.py), not
    # by an Exception handler: Starlette re-raises after such a handler, and the server
    # then logs a traceback and closes the keep-alive connection.
