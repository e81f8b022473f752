"""Vault's error answers: ``{"errors": [MESSAGE, …]}`` with Vault's statuses.

Vault answers a refusal with a list of messages, not a code: 400 for input it cannot
use, 403 ``permission denied`` for a missing, bad or insufficient token (the same
answer for each, as Vault gives), 404 with an empty list for a path that holds
nothing, 405 for a method a path does not take. The transit refusals keep the words
Vault's clients look for (``encryption key not found``, ``… disallowed by policy (too
old)``, ``cipher: message authentication failed``); every other message is sealbox's
own, which names the field or the rule, never a value that was sent.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from sealbox.accounts.audit import AuditUnavailableError
from sealbox.exceptions import StoreUnavailableError
from sealbox.secret import redact
from sealbox.service.errors import ApiError, ErrorCode
from sealbox.service.vault.envelope import envelope

__all__ = [
    "KEY_NOT_FOUND",
    "PERMISSION_DENIED",
    "TOO_LARGE",
    "VaultError",
    "from_api_error",
    "item_message",
    "validation_messages",
    "vault_refusal",
]

log = logging.getLogger("sealbox.service")

PERMISSION_DENIED: Final = "permission denied"
AUDIT_DOWN: Final = "the audit log cannot be written; the request was refused"
KEY_NOT_FOUND: Final = "encryption key not found"
#: The status of a body over the limit.
TOO_LARGE: Final = 413

# Vault's own words for the refusals its clients recognise; the rest keep sealbox's message.
_VAULT_WORDS: Final[Mapping[str, str]] = MappingProxyType(
    {
        ErrorCode.DECRYPTION_FAILED: "cipher: message authentication failed",
        ErrorCode.KEY_VERSION_TOO_OLD: (
            "ciphertext or signature version is disallowed by policy (too old)"
        ),
        ErrorCode.DELETION_NOT_ALLOWED: "deletion is not allowed for this key",
        ErrorCode.NOT_EXPORTABLE: "key is not exportable",
    }
)
_DENIED: Final = frozenset(
    {ErrorCode.NOT_AUTHENTICATED, ErrorCode.INVALID_TOKEN, ErrorCode.INSUFFICIENT_SCOPE}
)


class VaultError(Exception):
    """Raise to answer ``{"errors": messages}`` with ``status``."""

    def __init__(self, status: int, *messages: str, data: dict[str, Any] | None = None) -> None:
        # A message may quote the path (``unsupported path …``): a token pasted there is
        # hidden, as the access log hides it.
        shown = [redact(message) for message in messages]
        super().__init__(shown[0] if shown else f"status {status}")
        self.status = status
        self.messages = shown
        self.data = data

    def body(self) -> dict[str, Any]:
        """The JSON body: the messages; or, where Vault answers an error status with
        ``data`` (a deleted secret version), that answer's envelope."""
        if self.data is not None:
            return envelope(self.data)
        return {"errors": self.messages}

    @classmethod
    def denied(cls) -> VaultError:
        """403 ``permission denied``: no token, a bad one, or one without the scope."""
        return cls(403, PERMISSION_DENIED)

    @classmethod
    def not_found(cls) -> VaultError:
        """404 with no message: nothing at that path."""
        return cls(404)


def from_api_error(exc: ApiError, *, missing_key: str = KEY_NOT_FOUND) -> VaultError:
    """The Vault answer to an error of sealbox's own API.

    Args:
        exc: the native refusal.
        missing_key: the message for a key that does not exist (404 natively).
    """
    code = exc.code
    if code in _DENIED:
        return VaultError.denied()
    if code is ErrorCode.NOT_FOUND:
        return VaultError(400, missing_key)
    if code is ErrorCode.AUDIT_UNAVAILABLE:
        return VaultError(503, exc.message)
    words = _VAULT_WORDS.get(code)
    if words is not None:
        return VaultError(400, words)
    if code is ErrorCode.INVALID_CIPHERTEXT:
        return VaultError(400, _invalid_ciphertext(exc.message))
    # Vault answers 400 to every other refusal of the input (a 422, 409 or 413 here).
    status = exc.status if exc.status in (429, 503) else 400
    return VaultError(status, exc.message)


def item_message(code: str, message: str) -> str:
    """The ``error`` of a failed batch item: Vault's words for ``code``, else ``message``."""
    if code == ErrorCode.NOT_FOUND:
        return KEY_NOT_FOUND
    words = _VAULT_WORDS.get(ErrorCode(code)) if code in _CODES else None
    if words is not None:
        return words
    if code == ErrorCode.INVALID_CIPHERTEXT:
        return _invalid_ciphertext(message)
    return message


def _invalid_ciphertext(message: str) -> str:
    # These routes speak (and take) Vault's prefix: the form they name is vault:v<N>:.
    return "invalid ciphertext: " + message.replace("sealbox:v<N>:", "vault:v<N>:")


_CODES: Final = frozenset(c.value for c in ErrorCode)


def validation_messages(errors: Sequence[Any]) -> list[str]:
    """Messages for pydantic's validation errors: where and what, never the value sent."""
    out = []
    for err in errors:
        where = ".".join(str(p) for p in err.get("loc", ())) or "body"
        out.append(f"{where}: {err.get('msg', 'invalid')}")
    return out or ["the request is not valid"]


def vault_refusal(exc: BaseException) -> JSONResponse | None:
    """Vault's answer to ``exc``: a :class:`VaultError`, a body over the limit (413, raised
    by the body limit as a chunked body passes it), an unwritable audit log (503), a
    Redis or database that does not answer (503 with ``Retry-After``); ``None`` for
    anything else (an internal error, answered as every route's is)."""
    if isinstance(exc, VaultError):
        return JSONResponse(exc.body(), status_code=exc.status)
    if isinstance(exc, HTTPException) and exc.status_code == TOO_LARGE:
        return JSONResponse({"errors": [exc.detail]}, status_code=TOO_LARGE)
    if isinstance(exc, AuditUnavailableError):
        return JSONResponse({"errors": [AUDIT_DOWN]}, status_code=503)
    if isinstance(exc, StoreUnavailableError):
        log.warning("answered 503 store_unavailable: %s", exc)  # as every route logs it
        return JSONResponse(
            {"errors": [f"{exc}: try again once it answers"]},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    return None
