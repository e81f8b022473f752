"""Encryption as a service, as a library: transit keys, their versions and formats, and
the client of the sealbox service's ``/v1/keys`` routes.

Modules, each with one concern:

- :mod:`sealbox.transit.registry`: every key type in one registry (:data:`REGISTRY`):
  its operations, material, primitive, export form, signing options;
- :mod:`sealbox.transit.keys`: :class:`TransitKey` (a snapshot of a named key with
  numbered versions; encrypt, decrypt, rewrap, datakey, sign, verify, hmac);
- :mod:`sealbox.transit.versions`: :class:`KeyVersion`, the version rules, which version
  an operation uses and each version's state;
- :mod:`sealbox.transit.bulk`: a key's operations over many items at once (a batch's
  fast paths);
- :mod:`sealbox.transit.formats`: the ``sealbox:v<N>:<base64>`` text form;
- :mod:`sealbox.transit.material`: one version's material sealed under a master key;
- :mod:`sealbox.transit.batch`: running one operation over many items;
- :mod:`sealbox.transit.errors`: the refusals, each with a stable code;
- :mod:`sealbox.transit.client`: :class:`TransitClient`, over verified TLS.

The service (:mod:`sealbox.service`) stores keys and answers HTTP; the cryptography and
the rules are here. ``sealbox.service.transit_keys``, the old path, still imports.

The names below load their module on first use, so importing ``sealbox.transit`` does
not import the cryptography backend or httpx2.

May import: :mod:`sealbox.exceptions`, :mod:`sealbox.secret`, :mod:`sealbox._util`,
:mod:`sealbox.hazmat`, :mod:`sealbox.keys`, :mod:`sealbox.keysets` (the key states),
:mod:`sealbox.tls` (the client's TLS) and third-party ``httpx2``, and ``pybase64`` where
it is installed (the service extra's vectorised base64; the standard library's otherwise).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sealbox._util.lazy import lazy_names

if TYPE_CHECKING:
    from sealbox.transit.batch import BatchOutcome, run_batch
    from sealbox.transit.client import DataKey, TransitClient
    from sealbox.transit.errors import (
        BatchTooLargeError,
        ConcurrentRotationError,
        DeletionNotAllowedError,
        InvalidCiphertextError,
        InvalidKeyVersionError,
        InvalidRequestError,
        KeyExistsError,
        KeyVersionTooOldError,
        NotExportableError,
        ServiceError,
        ServiceUnreachableError,
        TransitError,
        UnknownKeyTypeError,
        UnsupportedOperationError,
    )
    from sealbox.transit.formats import (
        format_versioned,
        parse_versioned,
        peek_version,
        vault_spelling,
    )
    from sealbox.transit.keys import KeyVersion, TransitKey, check_version_rules
    from sealbox.transit.material import open_material, seal_material
    from sealbox.transit.registry import (
        DATAKEY_BITS,
        ENCRYPTION_TYPES,
        HMAC_TYPES,
        KEY_TYPES,
        OPERATIONS,
        REGISTRY,
        SIGNING_TYPES,
        Family,
        TransitKeyType,
        export_text,
        key_type,
        new_material,
    )

__all__ = [
    "DATAKEY_BITS",
    "ENCRYPTION_TYPES",
    "HMAC_TYPES",
    "KEY_TYPES",
    "OPERATIONS",
    "REGISTRY",
    "SIGNING_TYPES",
    "BatchOutcome",
    "BatchTooLargeError",
    "ConcurrentRotationError",
    "DataKey",
    "DeletionNotAllowedError",
    "Family",
    "InvalidCiphertextError",
    "InvalidKeyVersionError",
    "InvalidRequestError",
    "KeyExistsError",
    "KeyVersion",
    "KeyVersionTooOldError",
    "NotExportableError",
    "ServiceError",
    "ServiceUnreachableError",
    "TransitClient",
    "TransitError",
    "TransitKey",
    "TransitKeyType",
    "UnknownKeyTypeError",
    "UnsupportedOperationError",
    "check_version_rules",
    "export_text",
    "format_versioned",
    "key_type",
    "new_material",
    "open_material",
    "parse_versioned",
    "peek_version",
    "run_batch",
    "seal_material",
    "vault_spelling",
]

_MODULES = {
    "batch": ("BatchOutcome", "run_batch"),
    "client": ("DataKey", "TransitClient"),
    "errors": (
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
    ),
    "formats": ("format_versioned", "parse_versioned", "peek_version", "vault_spelling"),
    "keys": ("KeyVersion", "TransitKey", "check_version_rules"),
    "material": ("open_material", "seal_material"),
    "registry": (
        "DATAKEY_BITS",
        "ENCRYPTION_TYPES",
        "HMAC_TYPES",
        "KEY_TYPES",
        "OPERATIONS",
        "REGISTRY",
        "SIGNING_TYPES",
        "Family",
        "TransitKeyType",
        "export_text",
        "key_type",
        "new_material",
    ),
}
_LAZY = {name: f"{__name__}.{module}" for module, names in _MODULES.items() for name in names}

# Hidden from type checkers: a module ``__getattr__`` would type every misspelt name
# as Any; they see the names above (TYPE_CHECKING) and report any other.
if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_names(__name__, _LAZY, __all__, submodules=tuple(_MODULES))
