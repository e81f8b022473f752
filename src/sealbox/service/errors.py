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

from fastapi import FastAPI

from sealbox.integrations.fastapi.errors import (
    ApiError,
    audit_unavailable_response,
    error_response,
    validation_error_response,
)
from sealbox.integrations.fastapi.errors import (
    install_error_handlers as _install_library_handlers,
)

__all__ = [
    "ApiError",
    "ErrorCode",
    "audit_unavailable_response",
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


def install_error_handlers(app: FastAPI) -> None:
    """Map every exception the app can meet to a JSON error."""
    _install_library_handlers(app)
    # Unexpected errors are answered by InternalErrorMiddleware (see middleware.py), not
    # by an Exception handler: Starlette re-raises after such a handler, and the server
    # then logs a traceback and closes the keep-alive connection.
