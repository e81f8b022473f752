"""Authenticated encryption primitives, with nonces generated inside.

.. warning::

   This is a low-level module. For values in a database, a cookie or a URL use
   :class:`sealbox.Keyring` (key ids, rotation, a versioned token format); for
   files use :mod:`sealbox.age`.

Every class takes a key, encrypts ``bytes`` to ``bytes`` and decrypts back, and
raises :class:`~sealbox.exceptions.DecryptionError` (one fixed message) when the
ciphertext, the key or the associated data is wrong. The randomized ciphers
return ``nonce || ciphertext || tag`` and draw a fresh 96-bit nonce from the
operating system for every call; there is no way to pass one in, so there is no
way to reuse one.

=====================  ==========  =======  =====  ==============================
algorithm              key bytes   nonce    tag    use
=====================  ==========  =======  =====  ==============================
``aes-256-gcm``        32          12       16     default; fastest with AES-NI
``chacha20-poly1305``  32          12       16     fast without AES hardware
``aes-256-gcm-siv``    32          12       16     nonce-misuse resistant
``aes-256-siv``        64          none     16     deterministic (equality lookups)
=====================  ==========  =======  =====  ==============================

With random 96-bit nonces, encrypt at most 2**32 messages under one key
(NIST SP 800-38D, 8.3); rotate the keyring long before that.

:class:`HMACSHA256` is the MAC used for blind indexes.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import hmac as _hmac
import os
from collections.abc import Sequence
from hashlib import sha256
from typing import ClassVar, Final, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import aead as _aead

from sealbox.exceptions import DecryptionError, InvalidSignatureError, UnsupportedAlgorithmError

__all__ = [
    "AES256GCM",
    "AES256GCMSIV",
    "AES256SIV",
    "ALGORITHMS",
    "DEFAULT_ALGORITHM",
    "HMACSHA256",
    "AEADCipher",
    "ChaCha20Poly1305",
    "cipher_for",
]

NONCE_SIZE: Final = 12
TAG_SIZE: Final = 16


class AEADCipher(Protocol):
    """What every randomized cipher in this module provides."""

    ALGORITHM: ClassVar[str]
    KEY_SIZE: ClassVar[int]

    def encrypt(self, plaintext: bytes, associated_data: bytes = b"") -> bytes: ...

    def decrypt(self, ciphertext: bytes, associated_data: bytes = b"") -> bytes: ...


def _check_key(key: bytes, size: int, name: str) -> bytes:
    if not isinstance(key, bytes | bytearray | memoryview):
        raise TypeError("key must be bytes")
    key = bytes(key)
    if len(key) != size:
        raise ValueError(f"{name} needs a {size}-byte key, got {len(key)} bytes")
    return key


class _NonceAEAD:
    """Shared code of the ciphers that take a 96-bit nonce."""

    ALGORITHM: ClassVar[str]
    KEY_SIZE: ClassVar[int] = 32
    _impl: ClassVar[type[_aead.AESGCM | _aead.ChaCha20Poly1305 | _aead.AESGCMSIV]]

    __slots__ = ("_cipher",)

    def __init__(self, key: bytes) -> None:
        self._cipher = self._impl(_check_key(key, self.KEY_SIZE, self.ALGORITHM))

    @classmethod
    def generate_key(cls) -> bytes:
        """Return a fresh random key of the right size."""
        return os.urandom(cls.KEY_SIZE)

    def encrypt(self, plaintext: bytes, associated_data: bytes = b"") -> bytes:
        """Encrypt under a fresh random nonce.

        Returns:
            ``nonce (12) || ciphertext || tag (16)``.
        """
        nonce = os.urandom(NONCE_SIZE)
        return nonce + self._cipher.encrypt(nonce, plaintext, associated_data)

    def encrypt_many(self, items: Sequence[tuple[bytes, bytes]]) -> list[bytes]:
        """Encrypt each ``(plaintext, associated_data)`` pair under its own fresh random nonce.

        The nonces come from one read of the operating system's generator (12 bytes
        per pair) instead of one read per pair; each is used once.

        Returns:
            ``nonce (12) || ciphertext || tag (16)`` for each pair, in order.

        .. versionadded:: 0.1.0
        """
        nonces = os.urandom(NONCE_SIZE * len(items))
        encrypt = self._cipher.encrypt
        out = []
        start = 0
        for plaintext, associated_data in items:
            nonce = nonces[start : start + NONCE_SIZE]
            start += NONCE_SIZE
            out.append(nonce + encrypt(nonce, plaintext, associated_data))
        return out

    def decrypt(self, ciphertext: bytes, associated_data: bytes = b"") -> bytes:
        """Decrypt ``nonce || ciphertext || tag``.

        Raises:
            DecryptionError: the data is too short, was altered, or the key or
                associated data is wrong.
        """
        if len(ciphertext) < NONCE_SIZE + TAG_SIZE:
            raise DecryptionError
        try:
            return self._cipher.decrypt(
                ciphertext[:NONCE_SIZE], ciphertext[NONCE_SIZE:], associated_data
            )
        except InvalidTag:
            raise DecryptionError from None

    def _encrypt_with_nonce(self, nonce: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
        # Known-answer tests only: never call this with a nonce that is not fresh.
        return nonce + self._cipher.encrypt(nonce, plaintext, associated_data)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(algorithm={self.ALGORITHM!r})"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError(f"{type(self).__name__} holds key material and cannot be pickled")


class AES256GCM(_NonceAEAD):
    """AES-256-GCM (NIST SP 800-38D): the default."""

    ALGORITHM = "aes-256-gcm"
    _impl = _aead.AESGCM
    __slots__ = ()


class ChaCha20Poly1305(_NonceAEAD):
    """ChaCha20-Poly1305 (RFC 8439)."""

    ALGORITHM = "chacha20-poly1305"
    _impl = _aead.ChaCha20Poly1305
    __slots__ = ()


class AES256GCMSIV(_NonceAEAD):
    """AES-256-GCM-SIV (RFC 8452): a repeated nonce reveals only message equality."""

    ALGORITHM = "aes-256-gcm-siv"
    _impl = _aead.AESGCMSIV
    __slots__ = ()


class AES256SIV:
    """AES-256-SIV (RFC 5297), deterministic: the same input gives the same output.

    .. danger::

       Equal plaintexts (with equal associated data) give equal ciphertexts. That
       is the point (equality lookups), and also what an observer learns. Use it
       only where that is acceptable.
    """

    ALGORITHM: ClassVar[str] = "aes-256-siv"
    KEY_SIZE: ClassVar[int] = 64

    __slots__ = ("_cipher",)

    def __init__(self, key: bytes) -> None:
        self._cipher = _aead.AESSIV(_check_key(key, self.KEY_SIZE, self.ALGORITHM))

    @classmethod
    def generate_key(cls) -> bytes:
        """Return a fresh random 64-byte key."""
        return os.urandom(cls.KEY_SIZE)

    def encrypt(self, plaintext: bytes, associated_data: bytes | list[bytes] = b"") -> bytes:
        """Encrypt deterministically.

        Args:
            plaintext: the data; it may not be empty (RFC 5297 allows it, OpenSSL does not).
            associated_data: one byte string, or a list whose items are authenticated
                separately (RFC 5297, 2.4).

        Returns:
            ``synthetic IV (16) || ciphertext``.
        """
        if not plaintext:
            raise ValueError("AES-SIV cannot encrypt an empty value")
        return self._cipher.encrypt(plaintext, _ad_list(associated_data))

    def decrypt(self, ciphertext: bytes, associated_data: bytes | list[bytes] = b"") -> bytes:
        """Decrypt ``synthetic IV || ciphertext``.

        Raises:
            DecryptionError: the data was altered or the key or associated data is wrong.
        """
        if len(ciphertext) <= TAG_SIZE:
            raise DecryptionError
        try:
            return self._cipher.decrypt(ciphertext, _ad_list(associated_data))
        except InvalidTag:
            raise DecryptionError from None

    def __repr__(self) -> str:
        return f"AES256SIV(algorithm={self.ALGORITHM!r})"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("AES256SIV holds key material and cannot be pickled")


def _ad_list(associated_data: bytes | list[bytes]) -> list[bytes]:
    return list(associated_data) if isinstance(associated_data, list) else [associated_data]


class HMACSHA256:
    """HMAC-SHA-256 (RFC 2104) with a constant-time check.

    Args:
        key: at least 16 bytes (32 recommended, RFC 2104 section 3).
    """

    ALGORITHM: ClassVar[str] = "hmac-sha256"
    TAG_SIZE: ClassVar[int] = 32
    MIN_KEY_SIZE: ClassVar[int] = 16

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes | bytearray | memoryview):
            raise TypeError("key must be bytes")
        key = bytes(key)
        if len(key) < self.MIN_KEY_SIZE:
            raise ValueError(f"HMAC-SHA256 needs a key of at least {self.MIN_KEY_SIZE} bytes")
        self._key = key

    def sign(self, data: bytes) -> bytes:
        """Return the 32-byte tag of ``data``."""
        return _hmac.digest(self._key, data, sha256)

    def verify(self, data: bytes, tag: bytes) -> None:
        """Check a full 32-byte tag in constant time.

        Raises:
            InvalidSignatureError: the tag is wrong or not 32 bytes long.
        """
        if not _hmac.compare_digest(_hmac.digest(self._key, data, sha256), tag):
            raise InvalidSignatureError

    def __repr__(self) -> str:
        return "HMACSHA256()"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("HMACSHA256 holds key material and cannot be pickled")


ALGORITHMS: Final[dict[str, type[_NonceAEAD]]] = {
    cls.ALGORITHM: cls for cls in (AES256GCM, ChaCha20Poly1305, AES256GCMSIV)
}
"""The randomized ciphers by name, as they appear in keyring files."""

DEFAULT_ALGORITHM: Final = AES256GCM.ALGORITHM


def cipher_for(algorithm: str, key: bytes) -> _NonceAEAD:
    """Return the randomized cipher named ``algorithm`` keyed with ``key``.

    Raises:
        UnsupportedAlgorithmError: the name is not one of :data:`ALGORITHMS`.
    """
    try:
        cls = ALGORITHMS[algorithm]
    except KeyError:
        names = ", ".join(sorted(ALGORITHMS))
        raise UnsupportedAlgorithmError(
            f"unknown algorithm {algorithm!r} (supported: {names})"
        ) from None
    return cls(key)
