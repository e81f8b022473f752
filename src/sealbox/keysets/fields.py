"""Sealed tokens: the wire format of encrypted field values.

A sealed token is binary::

    0x01 | key_id (4, big-endian) | nonce (12) | ciphertext | tag (16)

with the AEAD's associated data ``0x01 | key_id | caller's associated data``, so
a token cannot be moved to another key id or another context. A deterministic
token (AES-256-SIV) is::

    0x02 | key_id (4, big-endian) | synthetic IV (16) | ciphertext

with the associated data items ``[0x02 | key_id, caller's associated data]``.
The text form of either is URL-safe base64 without padding. The key id picks the
key: there is no trial decryption.

Each keyring key holds 32 bytes of key material; the keys actually used are
derived from it with HKDF-SHA-256 (RFC 5869, no salt), one per purpose, so that
no key is ever used by two algorithms:

=================  ===========================================  =======
purpose            HKDF ``info``                                length
=================  ===========================================  =======
randomized seal    ``sealbox-keyring/1 seal <algorithm>``       32
deterministic      ``sealbox-keyring/1 deterministic``          64
blind index        ``sealbox-keyring/1 blind-index``            32
=================  ===========================================  =======

``docs/formats.md`` carries test vectors for all of this.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sealbox.exceptions import ConfigError, DecryptionError, FormatError, UnsupportedAlgorithmError
from sealbox.hazmat.aead import AES256SIV, ALGORITHMS, HMACSHA256

__all__ = [
    "HEADER_SIZE",
    "MATERIAL_SIZE",
    "VERSION_DETERMINISTIC",
    "VERSION_RANDOM",
    "FieldKey",
    "decode_token",
    "encode_token",
    "token_key_id",
    "value_bytes",
]

VERSION_RANDOM: Final = 0x01
VERSION_DETERMINISTIC: Final = 0x02
HEADER_SIZE: Final = 5  # version + key id
MATERIAL_SIZE: Final = 32
_INFO_PREFIX: Final = b"sealbox-keyring/1 "
_TEXT_ALPHABET = re.compile(rb"[A-Za-z0-9_-]*")


def _derive(material: bytes, purpose: bytes, length: int) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=length, salt=None, info=_INFO_PREFIX + purpose
    ).derive(material)


class FieldKey:
    """The working keys derived from one keyring key. Internal to :class:`Keyring`.

    It holds key material: it has no useful ``repr`` and cannot be pickled.
    """

    __slots__ = (
        "_bidx",
        "_det_header",
        "_material",
        "_siv",
        "algorithm",
        "decrypt",
        "encrypt",
        "header",
        "key_id",
    )

    def __init__(self, key_id: int, algorithm: str, material: bytes) -> None:
        if len(material) != MATERIAL_SIZE:
            raise ValueError(f"key material must be {MATERIAL_SIZE} bytes")
        try:
            cipher_cls = ALGORITHMS[algorithm]
        except KeyError:
            raise UnsupportedAlgorithmError(f"unknown algorithm {algorithm!r}") from None
        self.key_id = key_id
        self.algorithm = algorithm
        self._material = material
        self.header = bytes([VERSION_RANDOM]) + key_id.to_bytes(4, "big")
        self._det_header = bytes([VERSION_DETERMINISTIC]) + key_id.to_bytes(4, "big")
        # The bound methods of pyca's cipher are kept for the hot path.
        cipher = cipher_cls._impl(_derive(material, b"seal " + algorithm.encode(), 32))
        self.encrypt = cipher.encrypt
        self.decrypt = cipher.decrypt
        self._siv: AES256SIV | None = None
        self._bidx: HMACSHA256 | None = None

    def _deterministic(self) -> AES256SIV:
        if self._siv is None:
            self._siv = AES256SIV(_derive(self._material, b"deterministic", 64))
        return self._siv

    def seal_deterministic(self, data: bytes, associated_data: bytes = b"") -> bytes:
        """Return a version-2 (deterministic) token of ``data``."""
        if not data:
            raise ConfigError("deterministic sealing needs a non-empty value", code="empty_value")
        header = self._det_header
        return header + self._deterministic().encrypt(data, [header, associated_data])

    def open_deterministic(self, token: bytes, associated_data: bytes = b"") -> bytes:
        """Open a version-2 token whose header matches this key."""
        header = self._det_header
        return self._deterministic().decrypt(token[HEADER_SIZE:], [header, associated_data])

    def blind_index(self, data: bytes, context: bytes = b"") -> bytes:
        """HMAC-SHA-256 over ``len(context) (4, big-endian) | context | data``."""
        if self._bidx is None:
            self._bidx = HMACSHA256(_derive(self._material, b"blind-index", 32))
        return self._bidx.sign(len(context).to_bytes(4, "big") + context + data)

    def __repr__(self) -> str:
        return f"FieldKey(key_id={self.key_id:08x}, algorithm={self.algorithm!r})"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("FieldKey holds key material and cannot be pickled")


def encode_token(token: bytes) -> str:
    """Return the text form of a token: URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(token).rstrip(b"=").decode("ascii")


def decode_token(text: str | bytes) -> bytes:
    """Parse the text form of a token (surrounding whitespace is ignored).

    Only the one text :func:`encode_token` gives for a token is accepted: base64 leaves
    2 or 4 unused bits in a last character, and a decoder that ignored them would open
    up to 15 other spellings of the same token, so that a list of revoked tokens (a
    cookie, an API token) kept as text could be walked around.

    Raises:
        DecryptionError: the text is not URL-safe base64 without padding, or not
            in its canonical form. A token that cannot even be decoded is as
            unusable as a forged one, and the error is the same so that callers
            handle one case.
    """
    raw = text.encode("ascii", "replace") if isinstance(text, str) else bytes(text)
    raw = raw.strip()
    if not _TEXT_ALPHABET.fullmatch(raw) or len(raw) % 4 == 1:
        raise DecryptionError
    try:
        token = base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))
    except binascii.Error:
        raise DecryptionError from None
    if base64.urlsafe_b64encode(token).rstrip(b"=") != raw:
        raise DecryptionError
    return token


def value_bytes(value: str, what: str = "the value") -> bytes:
    """A field value given as ``str``, in UTF-8: what :meth:`Keyring.seal_text
    <sealbox.keysets.keyring.Keyring.seal_text>` seals and a blind index hashes.

    The sibling of :func:`sealbox.hazmat.kdf.text_bytes`, which words its error for a
    passphrase (code ``bad_passphrase``); this one is for the data itself.

    Args:
        value: the text.
        what: how the message names it (``"the value to seal"``).

    Raises:
        ConfigError: code ``bad_value``, it holds a lone surrogate (bytes that were not
            UTF-8, decoded with ``errors="surrogateescape"``, or JSON's ``"\\udcff"``).
            ``UnicodeEncodeError`` would quote the character: a piece of the value.
    """
    try:
        return value.encode()
    except UnicodeEncodeError:
        raise ConfigError(
            f"{what} is not valid Unicode text: it holds a lone surrogate",
            hint="give bytes, or text decoded as UTF-8 without errors='surrogateescape'",
            code="bad_value",
        ) from None


def token_key_id(token: bytes) -> int:
    """Return the key id a token names, without decrypting anything.

    Raises:
        FormatError: the token is too short or of an unknown version.
    """
    if len(token) < HEADER_SIZE or token[0] not in (VERSION_RANDOM, VERSION_DETERMINISTIC):
        raise FormatError("not a sealbox token (unknown version or too short)")
    return int.from_bytes(token[1:HEADER_SIZE], "big")
