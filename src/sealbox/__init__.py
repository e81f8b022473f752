"""sealbox: encryption and secure communication for Python applications.

The names below are imported on first use, so ``import sealbox`` stays cheap and
pulls in no web, CLI or database library.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import importlib

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
    from sealbox.keyring import KeyInfo, Keyring, KeyState
    from sealbox.passwords import PasswordHasher
    from sealbox.secret import Secret

__version__ = "0.1.0.dev0"

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

# name -> module that defines it, imported when the name is first used.
_LAZY = {
    "KeyInfo": "sealbox.keyring",
    "KeyState": "sealbox.keyring",
    "Keyring": "sealbox.keyring",
    "Secret": "sealbox.secret",
    "PasswordHasher": "sealbox.passwords",
    "JWKSet": "sealbox.jwt",
    "SigningKeySet": "sealbox.jwt",
    "TokenVerifier": "sealbox.jwt",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sealbox' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
