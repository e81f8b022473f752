"""The data of a ``sealed`` envelope: one AES-256-GCM message, ``nonce | ciphertext | tag``."""

from __future__ import annotations

import os
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sealbox.exceptions import DecryptionError
from sealbox.keysets.envelope.format import sealed_associated_data

__all__ = ["NONCE", "ONE_SHOT", "TAG", "open_sealed", "seal"]

NONCE: Final = 12
TAG: Final = 16
# pyca's AESGCM takes at most 2**31 - 1 bytes of input and of associated data per call,
# and the input of decrypt() holds the tag: values must stay 16 bytes under it to open.
ONE_SHOT: Final = 2**31 - 1
# The longest data a sealed envelope ever held: earlier builds sealed values up to ONE_SHOT.
_LONGEST: Final = NONCE + ONE_SHOT + TAG
_CHUNK: Final = 4 * 1024 * 1024


def seal(data_key: bytes, data: bytes, associated_data: bytes) -> bytes:
    """``nonce | ciphertext | tag`` of ``data`` (the caller checked the sizes)."""
    nonce = os.urandom(NONCE)
    return nonce + AESGCM(data_key).encrypt(nonce, data, sealed_associated_data(associated_data))


def open_sealed(data_key: bytes, body: memoryview, associated_data: bytes) -> bytes:
    """The plaintext of a sealed envelope's data.

    Raises:
        DecryptionError: altered, truncated, or bound to other associated data.
    """
    # Longer data or associated data was never sealed (sealbox refused or could not).
    if not NONCE + TAG <= len(body) <= _LONGEST or len(associated_data) > ONE_SHOT - 5:
        raise DecryptionError
    aad = sealed_associated_data(associated_data)
    nonce, sealed = body[:NONCE], body[NONCE:]
    if len(sealed) > ONE_SHOT:
        return _open_in_chunks(data_key, bytes(nonce), sealed, aad)
    try:
        return AESGCM(data_key).decrypt(nonce, sealed, aad)
    except InvalidTag:
        raise DecryptionError from None


def _open_in_chunks(data_key: bytes, nonce: bytes, sealed: memoryview, aad: bytes) -> bytes:
    """Open a value too long for one AESGCM call (up to 16 bytes short of 2 GiB, which
    earlier builds sealed): authenticated first in a reused buffer, so that an altered
    envelope costs no memory, then decrypted."""
    data, tag = sealed[:-TAG], bytes(sealed[-TAG:])

    def run(keep: list[bytes] | None) -> None:
        dec = Cipher(algorithms.AES(data_key), modes.GCM(nonce, tag)).decryptor()
        dec.authenticate_additional_data(aad)
        buf = bytearray(_CHUNK + 15)  # update_into wants room for a block more
        for i in range(0, len(data), _CHUNK):
            n = dec.update_into(data[i : i + _CHUNK], buf)
            if keep is not None:
                keep.append(bytes(buf[:n]))
        dec.finalize()

    parts: list[bytes] = []
    try:
        run(None)
        run(parts)
    except InvalidTag:
        raise DecryptionError from None
    return b"".join(parts)
