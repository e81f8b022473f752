"""sealbox: encryption and secure communication for Python applications.

The names below are imported on first use, so ``import sealbox`` stays cheap and
pulls in no web, CLI or database library.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from sealbox._util import moved
from sealbox._util.lazy import lazy_names
from sealbox.exceptions import (
    ConfigError,
    DecryptionError,
    FormatError,
    InvalidSignatureError,
    KeyNotFoundError,
    KeyStateError,
    SealboxError,
    StorageError,
)

# Spelled out rather than imported from typing, which costs milliseconds at start-up;
# type checkers recognise the name.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from sealbox.jwt import JWKSet, SigningKeySet, TokenVerifier
    from sealbox.keysets.keyring import KeyInfo, Keyring, KeyState
    from sealbox.passwords import PasswordHasher
    from sealbox.secret import Secret

__version__ = "0.1.0.dev0"  # the one place the version is written (pyproject reads it)

__all__ = [
    "ConfigError",
    "DecryptionError",
    "FormatError",
    "InvalidSignatureError",
    "JWKSet",
    "KeyInfo",
    "KeyNotFoundError",
    "KeyState",
    "KeyStateError",
    "Keyring",
    "PasswordHasher",
    "SealboxError",
    "Secret",
    "SigningKeySet",
    "StorageError",
    "TokenVerifier",
    "__version__",
]

# Old module paths (sealbox.keyring, sealbox.aead…) keep importing.
moved.install()

# name -> module that defines it, imported when the name is first used.
# Hidden from type checkers: a module ``__getattr__`` would type every misspelt name
# as Any; they see the names above (TYPE_CHECKING) and report any other.
if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_names(
        __name__,
        {
            "KeyInfo": "sealbox.keysets.keyring",
            "KeyState": "sealbox.keysets.keyring",
            "Keyring": "sealbox.keysets.keyring",
            "Secret": "sealbox.secret",
            "PasswordHasher": "sealbox.passwords",
            "JWKSet": "sealbox.jwt",
            "SigningKeySet": "sealbox.jwt",
            "TokenVerifier": "sealbox.jwt",
        },
        __all__,
    )
