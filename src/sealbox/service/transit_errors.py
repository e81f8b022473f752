"""The HTTP answer of each transit refusal: one table from library error codes to statuses.

The library (:mod:`sealbox.transit`) refuses with errors that carry a stable code and
no HTTP status; this table gives each code its status and the code the JSON error body
carries (the same word, but for ``key_not_found``, answered as ``not_found``, and
``unknown_key_type`` and ``concurrent_rotation``, which keep the words the service
has always answered). A library error whose code is not here is not a refusal of the
caller's input (a master key that does not open a stored key): it is an internal error.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from sealbox.exceptions import SealboxError
from sealbox.service.errors import ApiError, ErrorCode

__all__ = ["TRANSIT_STATUSES", "transit_api_error", "wire_code"]

TRANSIT_STATUSES: Final[Mapping[str, tuple[int, ErrorCode]]] = MappingProxyType(
    {
        "decryption_failed": (400, ErrorCode.DECRYPTION_FAILED),
        "key_version_too_old": (400, ErrorCode.KEY_VERSION_TOO_OLD),
        "invalid_key_version": (400, ErrorCode.INVALID_KEY_VERSION),
        "invalid_ciphertext": (400, ErrorCode.INVALID_CIPHERTEXT),
        "invalid_request": (400, ErrorCode.INVALID_REQUEST),
        "unsupported_operation": (400, ErrorCode.UNSUPPORTED_OPERATION),
        "unsupported_algorithm": (400, ErrorCode.UNSUPPORTED_ALGORITHM),
        "unknown_key_type": (400, ErrorCode.VALIDATION_ERROR),
        "deletion_not_allowed": (400, ErrorCode.DELETION_NOT_ALLOWED),
        "not_exportable": (403, ErrorCode.NOT_EXPORTABLE),
        "key_not_found": (404, ErrorCode.NOT_FOUND),
        "key_exists": (409, ErrorCode.KEY_EXISTS),
        "concurrent_rotation": (409, ErrorCode.INVALID_REQUEST),
        "batch_too_large": (413, ErrorCode.BATCH_TOO_LARGE),
    }
)
"""Library code → (HTTP status, the code of the JSON error body)."""


def wire_code(exc: SealboxError) -> str | None:
    """The code a refusal is answered with (a batch item's ``error``), or ``None``."""
    found = TRANSIT_STATUSES.get(exc.code)
    return None if found is None else found[1].value


def transit_api_error(exc: SealboxError) -> ApiError | None:
    """The JSON error answer for a library refusal, or ``None`` when ``exc`` is not one."""
    found = TRANSIT_STATUSES.get(exc.code)
    if found is None:
        return None
    status, code = found
    return ApiError(status, code, str(exc))
