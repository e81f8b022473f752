"""Why a transit operation was refused: library errors with stable codes and public facts.

Each refusal has a class and a code (``key_version_too_old``, ``invalid_ciphertext``…);
the service answers with the same codes (it maps them to HTTP statuses in one table,
:mod:`sealbox.service.transit_errors`), and :class:`~sealbox.transit.client.TransitClient`
turns the service's answers back into these classes. Three refusals use the shared tree:
a ciphertext that does not authenticate raises :class:`~sealbox.exceptions.DecryptionError`
(``decryption_failed``), a signing option sealbox does not offer
:class:`~sealbox.exceptions.UnsupportedAlgorithmError` and a missing key
:class:`~sealbox.exceptions.KeyNotFoundError`.

Messages name keys, versions and types, never key material or input data.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Mapping

from sealbox.exceptions import FormatError, SealboxError

__all__ = [
    "BatchTooLargeError",
    "ConcurrentRotationError",
    "DeletionNotAllowedError",
    "InvalidCiphertextError",
    "InvalidKeyVersionError",
    "InvalidRequestError",
    "KeyExistsError",
    "KeyVersionTooOldError",
    "NotExportableError",
    "ServiceError",
    "ServiceUnreachableError",
    "TransitError",
    "UnknownKeyTypeError",
    "UnsupportedOperationError",
]


class TransitError(SealboxError):
    """Root of the transit refusals (and of what the client meets on the way)."""

    code = "transit"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        code: str | None = None,
        facts: Mapping[str, object] | None = None,
    ) -> None:
        shown = {k: str(v) for k, v in (facts or {}).items()}
        super().__init__(message, hint=hint, code=code, facts=shown)


class UnknownKeyTypeError(TransitError, ValueError):
    """A key type the registry does not hold (facts: ``type``)."""

    code = "unknown_key_type"


class UnsupportedOperationError(TransitError):
    """The key's type does not do that operation (facts: ``type``, ``operation``)."""

    code = "unsupported_operation"


class InvalidCiphertextError(TransitError, FormatError):
    """A ciphertext, signature or HMAC is not ``sealbox:v<N>:<base64>`` (facts: ``what``)."""

    code = "invalid_ciphertext"


class InvalidKeyVersionError(TransitError, ValueError):
    """A version that does not exist, is below the floor for new data, or breaks a rule."""

    code = "invalid_key_version"


class KeyVersionTooOldError(TransitError):
    """The input was made with a version below ``min_decryption_version``.

    Facts: ``key``, ``version``, ``min_decryption_version``.
    """

    code = "key_version_too_old"


class InvalidRequestError(TransitError, ValueError):
    """An input is missing, not valid base64, or not one the key can take."""

    code = "invalid_request"


class KeyExistsError(TransitError):
    """A key with that name already exists (facts: ``key``)."""

    code = "key_exists"


class DeletionNotAllowedError(TransitError):
    """The key's ``deletion_allowed`` is off (facts: ``key``)."""

    code = "deletion_not_allowed"


class NotExportableError(TransitError):
    """The key's ``exportable`` is off (facts: ``key``)."""

    code = "not_exportable"


class ConcurrentRotationError(TransitError):
    """Other rotations kept winning the next version: try again (facts: ``key``)."""

    code = "concurrent_rotation"


class BatchTooLargeError(TransitError, ValueError):
    """More batch items than the limit (facts: ``limit``)."""

    code = "batch_too_large"


class ServiceError(TransitError):
    """The service refused a request for a reason of its own (the token, a scope, a limit).

    The instance's ``code`` is the service's (``insufficient_scope``,
    ``not_authenticated``, ``payload_too_large``…).
    """

    code = "service_error"


class ServiceUnreachableError(TransitError):
    """The service could not be reached, or the exchange broke off (facts: ``url``)."""

    code = "service_unreachable"
