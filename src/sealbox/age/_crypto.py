"""The primitives and sizes every age section shares: HKDF-SHA-256, the file key wrap,
and the STREAM payload's chunk sizes (age.md).

All of them come from pyca/cryptography; this module only fixes their parameters.
"""

from __future__ import annotations

from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sealbox.hazmat.bindings import ChaCha20Poly1305

FILE_KEY_SIZE: Final = 16
TAG_SIZE: Final = 16
WRAPPED_KEY_SIZE: Final = FILE_KEY_SIZE + TAG_SIZE
CHUNK_SIZE: Final = 64 * 1024
"""Plaintext per STREAM chunk of the payload; the final chunk may be shorter."""
ENCRYPTED_CHUNK_SIZE: Final = CHUNK_SIZE + TAG_SIZE
NONCE_SIZE: Final = 16
"""The random nonce at the start of the payload (the HKDF salt of the payload key)."""
_ZERO_NONCE: Final = bytes(12)


def hkdf(ikm: bytes, salt: bytes, info: bytes, length: int = 32) -> bytes:
    """HKDF-SHA-256 (RFC 5869): Extract with ``salt``, Expand with ``info``."""
    return HKDF(algorithm=SHA256(), length=length, salt=salt, info=info).derive(ikm)


def seal_file_key(wrap_key: bytes, file_key: bytes) -> bytes:
    """ChaCha20-Poly1305 of the file key under ``wrap_key`` with the all-zero nonce."""
    return ChaCha20Poly1305(wrap_key).encrypt(_ZERO_NONCE, file_key, None)


def open_file_key(wrap_key: bytes, body: bytes) -> bytes | None:
    """Open a wrapped file key; ``None`` when it does not authenticate under ``wrap_key``."""
    try:
        return ChaCha20Poly1305(wrap_key).decrypt(_ZERO_NONCE, body, None)
    except InvalidTag:
        return None
