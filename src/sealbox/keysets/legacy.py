"""The original recipes' formats: read them, so their data can move to age files.

Three formats came before sealbox (DESIGN.md, "Legacy"):

``fernet-file``
    16-byte salt, then a Fernet token (its URL-safe base64 text). The Fernet key
    is ``urlsafe_b64encode(PBKDF2-HMAC-SHA256(password, salt, 100 000, 32))``.
``fernet-json``
    ``{"salt": base64, "ciphertext": base64}`` where ``ciphertext`` is the base64
    of a Fernet token made the same way.
``aes-gcm-json``
    ``{"iv": 12 bytes, "ciphertext": …, "tag": 16 bytes}`` (base64, or hex)
    under a raw 32-byte AES-256-GCM key.

These formats hold the whole file in memory and cannot stream; sealbox only
reads them. ``sealbox legacy migrate`` rewrites one as an age file.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
from collections.abc import Mapping
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from sealbox.exceptions import ConfigError, DecryptionError, FormatError
from sealbox.secret import Secret

__all__ = [
    "PBKDF2_ITERATIONS",
    "LegacyFormat",
    "decrypt",
    "decrypt_aes_gcm",
    "decrypt_fernet_file",
    "decrypt_fernet_json",
    "detect",
    "fernet_key",
]

PBKDF2_ITERATIONS: Final = 100_000
SALT_SIZE: Final = 16
_FERNET_PREFIX: Final = b"gAAAAA"  # version byte 0x80 and the high bytes of a timestamp
_WRONG: Final = "cannot decrypt: wrong password or key, or the data was altered"


class LegacyFormat(enum.StrEnum):
    """The formats of the original recipes."""

    FERNET_FILE = "fernet-file"
    FERNET_JSON = "fernet-json"
    AES_GCM_JSON = "aes-gcm-json"


def _secret_bytes(value: str | bytes | Secret[Any]) -> bytes:
    raw = value.expose_secret() if isinstance(value, Secret) else value
    if isinstance(raw, str):
        return raw.encode()
    assert isinstance(raw, bytes | bytearray)
    return bytes(raw)


def fernet_key(password: str | bytes | Secret[Any], salt: bytes) -> bytes:
    """The recipe's Fernet key: PBKDF2-HMAC-SHA256, 100 000 iterations, URL-safe base64."""
    kdf = PBKDF2HMAC(algorithm=SHA256(), length=32, salt=salt, iterations=PBKDF2_ITERATIONS)
    return base64.urlsafe_b64encode(kdf.derive(_secret_bytes(password)))


def _json(data: bytes | Mapping[str, Any]) -> Mapping[str, Any] | None:
    if isinstance(data, Mapping):
        return data
    stripped = data.lstrip()
    if not stripped.startswith(b"{"):
        return None
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise FormatError("the legacy file looks like JSON but does not parse") from None
    if not isinstance(doc, dict):
        raise FormatError("the legacy JSON document is not an object")
    return doc


def detect(data: bytes | Mapping[str, Any]) -> LegacyFormat:
    """Tell which legacy format ``data`` is in.

    Raises:
        FormatError: none of them.
    """
    # Checked first: the file format starts with 16 random bytes, which may well look
    # like the start of a JSON object ("{", after whitespace).
    if (
        isinstance(data, bytes)
        and len(data) > SALT_SIZE
        and data[SALT_SIZE:].startswith(_FERNET_PREFIX)
    ):
        return LegacyFormat.FERNET_FILE
    doc = _json(data)
    if doc is not None:
        if {"salt", "ciphertext"} <= doc.keys():
            return LegacyFormat.FERNET_JSON
        if {"iv", "ciphertext", "tag"} <= doc.keys():
            return LegacyFormat.AES_GCM_JSON
        raise FormatError(
            "unknown legacy JSON: expected the keys salt+ciphertext or iv+ciphertext+tag"
        )
    raise FormatError("not a legacy sealbox file: no salt and Fernet token, and not JSON")


def _decode(value: object, name: str) -> bytes:
    """base64 (standard or URL-safe, padded or not) or hex."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if not isinstance(value, str):
        raise FormatError(f"{name!r} must be a base64 or hex string")
    text = value.strip()
    # The iv and tag have fixed sizes, so their hex form (24 and 32 digits) cannot be
    # mistaken for their base64 form (16 and 24 characters).
    hex_length = {"iv": 24, "tag": 32}.get(name)
    if len(text) == hex_length and all(c in "0123456789abcdefABCDEF" for c in text):
        return bytes.fromhex(text)
    try:
        return base64.b64decode(
            text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4), validate=True
        )
    except (binascii.Error, ValueError):
        raise FormatError(f"{name!r} is not valid base64") from None


def _open_fernet(token: bytes, password: str | bytes | Secret[Any], salt: bytes) -> bytes:
    try:
        return Fernet(fernet_key(password, salt)).decrypt(token.strip())
    except InvalidToken:
        raise DecryptionError(_WRONG) from None


def decrypt_fernet_file(data: bytes, password: str | bytes | Secret[Any]) -> bytes:
    """Decrypt ``salt (16) || Fernet token``.

    Raises:
        FormatError: too short to hold a salt and a token.
        DecryptionError: wrong password, or the data was altered.
    """
    if len(data) <= SALT_SIZE:
        raise FormatError("the legacy file is too short to hold a salt and a token")
    return _open_fernet(data[SALT_SIZE:], password, data[:SALT_SIZE])


def decrypt_fernet_json(
    data: bytes | Mapping[str, Any], password: str | bytes | Secret[Any]
) -> bytes:
    """Decrypt ``{"salt": …, "ciphertext": base64(Fernet token)}``.

    Raises:
        FormatError: not that document.
        DecryptionError: wrong password, or the data was altered.
    """
    doc = _json(data)
    if doc is None or not {"salt", "ciphertext"} <= doc.keys():
        raise FormatError("not a legacy Fernet JSON document (salt, ciphertext)")
    salt = _decode(doc["salt"], "salt")
    token = _decode(doc["ciphertext"], "ciphertext")
    if not token.startswith(_FERNET_PREFIX):
        # Some writers stored the token text itself rather than its base64.
        raw = doc["ciphertext"]
        token = raw.encode() if isinstance(raw, str) else token
    return _open_fernet(token, password, salt)


def decrypt_aes_gcm(data: bytes | Mapping[str, Any], key: bytes | Secret[bytes]) -> bytes:
    """Decrypt ``{"iv", "ciphertext", "tag"}`` under a raw 32-byte AES-256-GCM key.

    Raises:
        ConfigError: the key is not 32 bytes.
        FormatError: not that document, or an iv/tag of the wrong size.
        DecryptionError: wrong key, or the data was altered.
    """
    raw_key = key.expose_secret() if isinstance(key, Secret) else bytes(key)
    if len(raw_key) != 32:
        raise ConfigError("the AES-256-GCM key must be 32 bytes")
    doc = _json(data)
    if doc is None or not {"iv", "ciphertext", "tag"} <= doc.keys():
        raise FormatError("not a legacy AES-GCM document (iv, ciphertext, tag)")
    iv = _decode(doc["iv"], "iv")
    tag = _decode(doc["tag"], "tag")
    ciphertext = _decode(doc["ciphertext"], "ciphertext")
    if len(iv) != 12 or len(tag) != 16:
        raise FormatError("the AES-GCM iv must be 12 bytes and the tag 16")
    try:
        return AESGCM(raw_key).decrypt(iv, ciphertext + tag, None)
    except InvalidTag:
        raise DecryptionError(_WRONG) from None


def decrypt(
    data: bytes,
    *,
    password: str | bytes | Secret[Any] | None = None,
    key: bytes | Secret[bytes] | None = None,
) -> bytes:
    """Detect the format of ``data`` and decrypt it (a password for Fernet, a key for AES-GCM).

    Raises:
        ConfigError: the format needs a password (or key) that was not given.
        FormatError, DecryptionError: as the functions for each format.
    """
    fmt = detect(data)
    if fmt is LegacyFormat.AES_GCM_JSON:
        if key is None:
            raise ConfigError(
                "this is an AES-GCM record: it needs the raw 32-byte key",
                hint="pass key=",
                code="key_file_needed",
            )
        return decrypt_aes_gcm(data, key)
    if password is None:
        raise ConfigError("this is a Fernet file: it needs its password")
    if fmt is LegacyFormat.FERNET_JSON:
        return decrypt_fernet_json(data, password)
    return decrypt_fernet_file(data, password)
