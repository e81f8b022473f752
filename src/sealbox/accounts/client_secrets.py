"""The credentials of machine clients: their ids, their secrets and the stored form of a
secret (:mod:`sealbox.accounts.clients` keeps the clients and checks them).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Final

__all__ = [
    "CLIENT_ID_PREFIX",
    "CLIENT_SECRET_PREFIX",
    "MAX_SECRET",
    "hash_client_secret",
    "new_client_id",
    "new_client_secret",
]

CLIENT_ID_PREFIX: Final = "sbc_"
CLIENT_SECRET_PREFIX: Final = "sbs_"  # noqa: S105 - a prefix, not a secret
MAX_SECRET: Final = 256


def hash_client_secret(secret: str) -> bytes:
    """The stored form of a client secret (SHA-256; see :mod:`sealbox.accounts.clients`)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


def new_client_secret() -> str:
    """A fresh secret: a prefix and 256 random bits in base64url."""
    return CLIENT_SECRET_PREFIX + _b64(secrets.token_bytes(32))


def new_client_id() -> str:
    """A fresh client id (no secret): a prefix and 96 random bits in base64url."""
    return CLIENT_ID_PREFIX + _b64(secrets.token_bytes(12))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
