"""The original recipes' records: recognise them, read them, so their data can move on.

Two recipes came before sealbox (DESIGN.md, "Legacy"), and their records were stored
in four layouts:

``fernet-file``
    16-byte salt, then a Fernet token (its URL-safe base64 text). The Fernet key
    is ``urlsafe_b64encode(PBKDF2-HMAC-SHA256(password, salt, 100 000, 32))``.
``fernet-json``
    ``{"salt": …, "ciphertext": …}``: the salt in base64 (or hex), the Fernet token
    made the same way, in base64 (or hex, or as the token text itself).
``aes-gcm-json``
    ``{"iv": 12 bytes, "ciphertext": …, "tag": 16 bytes}`` under a raw 32-byte
    AES-256-GCM key, every field in hex or every field in base64 (the length of the
    ``iv`` tells which: 24 hex digits or 16 base64 characters).
``aes-gcm-raw``
    the same record as bytes: ``iv (12) || ciphertext || tag (16)``.

The first three are recognised by their content (:func:`detect`). A raw AES-GCM
record is 28 or more bytes that look like any other random bytes: it is never
guessed, only read when named (``format=LegacyFormat.AES_GCM_RAW``).

These layouts hold the whole record in memory and cannot stream; sealbox only
reads them. ``sealbox legacy migrate`` rewrites one as an age file.

.. versionadded:: 0.1.0
.. versionchanged:: 0.1.0
   ``aes-gcm-raw``; hex AES-GCM records; :func:`sniff`, :func:`parse_key` and
   :func:`raise_if_legacy`.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import re
from collections.abc import Mapping
from typing import Any, Final

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from sealbox.exceptions import ConfigError, DecryptionError, FormatError, KeyFormatError
from sealbox.hazmat.aead import AES256GCM
from sealbox.secret import Secret

__all__ = [
    "PBKDF2_ITERATIONS",
    "LegacyFormat",
    "decrypt",
    "decrypt_aes_gcm",
    "decrypt_aes_gcm_raw",
    "decrypt_fernet_file",
    "decrypt_fernet_json",
    "detect",
    "fernet_key",
    "parse_key",
    "raise_if_legacy",
    "sniff",
]

PBKDF2_ITERATIONS: Final = 100_000
SALT_SIZE: Final = 16
IV_SIZE: Final = 12
TAG_SIZE: Final = 16
KEY_SIZE: Final = 32
# Version byte 0x80 and the 28 high bits of a 64-bit timestamp, zero until the year 4147.
_FERNET_PREFIX: Final = b"gAAAAA"
# The same first bytes of a token stored as the base64 or the hex of its text.
_FERNET_B64_PREFIX: Final = base64.b64encode(_FERNET_PREFIX)
_FERNET_HEX_PREFIX: Final = _FERNET_PREFIX.hex().encode()
_AGE_STARTS: Final = (b"age-encryption.org/", b"-----BEGIN AGE ENCRYPTED FILE-----")
_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")
_WRONG: Final = "cannot decrypt: wrong password or key, or the data was altered"
# A Fernet token as its own text: base64 (URL-safe or standard, as Fernet reads both),
# padded or not.
_FERNET_TEXT: Final = re.compile(rb"gAAAAA[A-Za-z0-9_+/-]+={0,2}")
# The shortest token: version, timestamp, IV, one AES block and the HMAC (73 bytes), in
# base64 without its padding.
_FERNET_TEXT_MIN: Final = 98
# What some editors and exports write before JSON text; json.loads refuses it.
_UTF8_BOM: Final = b"\xef\xbb\xbf"
# A JSON record cut short still names its first keys.
_JSON_KEY = re.compile(rb'"(salt|iv|tag)"\s*:')


class LegacyFormat(enum.StrEnum):
    """The layouts of the original recipes' records."""

    FERNET_FILE = "fernet-file"
    FERNET_JSON = "fernet-json"
    AES_GCM_JSON = "aes-gcm-json"
    AES_GCM_RAW = "aes-gcm-raw"

    @property
    def uses_key(self) -> bool:
        """True for the AES-GCM layouts (a raw 32-byte key), false for Fernet (a password)."""
        return self in {LegacyFormat.AES_GCM_JSON, LegacyFormat.AES_GCM_RAW}


def _secret_bytes(value: str | bytes | Secret[Any]) -> bytes:
    raw = value.expose_secret() if isinstance(value, Secret) else value
    if isinstance(raw, str):
        return raw.encode()
    if not isinstance(raw, bytes | bytearray):
        raise TypeError("a password is str, bytes or a Secret of either")
    return bytes(raw)


def fernet_key(password: str | bytes | Secret[Any], salt: bytes) -> bytes:
    """The recipe's Fernet key: PBKDF2-HMAC-SHA256, 100 000 iterations, URL-safe base64."""
    kdf = PBKDF2HMAC(algorithm=SHA256(), length=32, salt=salt, iterations=PBKDF2_ITERATIONS)
    return base64.urlsafe_b64encode(kdf.derive(_secret_bytes(password)))


def _is_fernet_file(data: bytes) -> bool:
    return len(data) > SALT_SIZE and data[SALT_SIZE:].startswith(_FERNET_PREFIX)


def _is_bare_fernet_token(data: bytes) -> bool:
    """Whether ``data`` is a Fernet token alone, with no salt before it: what
    ``Fernet(key).encrypt`` returns, made with a key rather than the recipes' password."""
    if not data.lstrip().startswith(_FERNET_PREFIX) or _is_fernet_file(data):
        return False
    text = b"".join(data.split())  # a token wrapped over lines
    return len(text.rstrip(b"=")) >= _FERNET_TEXT_MIN and _FERNET_TEXT.fullmatch(text) is not None


def _bare_fernet_token() -> FormatError:
    return FormatError(
        "this is a bare Fernet token, made with a Fernet key: the original recipes store "
        "a salt with the token (before it in a file, beside it in JSON) and derive the key "
        "from a password; sealbox reads only the recipes' records",
        code="legacy_fernet_token",
        hint="decrypt it with cryptography's Fernet(key) (MultiFernet for rotated keys) "
        "and seal the value again under a keyring (docs/legacy.md, bare Fernet tokens)",
    )


def _unknown(message: str) -> FormatError:
    return FormatError(
        message,
        code="legacy_layout_unknown",
        hint="if it is a raw AES-GCM record (iv, ciphertext, tag), name its layout "
        "(LegacyFormat.AES_GCM_RAW)",
    )


def _json(data: bytes | Mapping[str, Any]) -> Mapping[str, Any] | None:
    if isinstance(data, Mapping):
        return data
    data = data.removeprefix(_UTF8_BOM)
    if not data.lstrip().startswith(b"{"):
        return None
    try:
        doc: dict[str, Any] = json.loads(data)  # text starting with "{" is an object
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        # One raw AES-GCM record in 256 starts with "{" as well.
        raise _unknown(
            "the legacy record starts like JSON but does not parse: a JSON record cut "
            "short, or a raw AES-GCM record"
        ) from None
    return doc


def _json_format(doc: Mapping[str, Any]) -> LegacyFormat | None:
    if {"salt", "ciphertext"} <= doc.keys():
        return LegacyFormat.FERNET_JSON
    if {"iv", "ciphertext", "tag"} <= doc.keys():
        return LegacyFormat.AES_GCM_JSON
    return None


def detect(data: bytes | Mapping[str, Any]) -> LegacyFormat:
    """Tell which legacy layout ``data`` is in, from its content.

    A raw AES-GCM record is never returned: random bytes cannot be told apart
    from other random bytes. Name that layout to read one.

    Raises:
        FormatError: none of the recognisable layouts (code ``legacy_layout_unknown``),
            an age file (code ``age_file_not_legacy``), a Fernet token alone, made with
            a Fernet key rather than a recipe's password (code ``legacy_fernet_token``),
            or JSON with other keys.
    """
    # Checked first: the file layout starts with 16 random bytes, which may well look
    # like the start of a JSON object ("{", after whitespace).
    if isinstance(data, bytes) and _is_fernet_file(data):
        return LegacyFormat.FERNET_FILE
    if isinstance(data, bytes) and _is_bare_fernet_token(data):
        raise _bare_fernet_token()
    if isinstance(data, bytes) and data.lstrip().startswith(_AGE_STARTS):
        raise FormatError(
            "this is an age file, not a record of the original recipes",
            code="age_file_not_legacy",
            hint="decrypt it as an age file (sealbox.age)",
        )
    doc = _json(data)
    if doc is None:
        raise _unknown(
            "not a recognisable legacy record: neither a salt and a Fernet token nor "
            "a JSON record; a raw AES-GCM record looks like any other bytes"
        )
    fmt = _json_format(doc)
    if fmt is None:
        raise FormatError(
            "unknown legacy JSON: expected the keys salt+ciphertext or iv+ciphertext+tag"
        )
    return fmt


def sniff(head: bytes) -> LegacyFormat | None:
    """The legacy layout that ``head``, the first bytes of a file, starts, if any.

    For telling a legacy record apart from what was expected in its place (an age
    file): never raises, and recognises a JSON record from its first 64 KiB even
    when ``head`` ends inside it. A raw AES-GCM record is not recognisable (None).
    """
    if _is_fernet_file(head):
        return LegacyFormat.FERNET_FILE
    head = head.removeprefix(_UTF8_BOM)
    if not head.lstrip().startswith(b"{"):
        return None
    try:
        doc = json.loads(head)
    except RecursionError:
        return None  # nested past the interpreter's limit: no legacy record looks so
    except (UnicodeDecodeError, json.JSONDecodeError):
        keys = set(_JSON_KEY.findall(head[: 64 * 1024]))
        if b"salt" in keys:
            return LegacyFormat.FERNET_JSON
        return LegacyFormat.AES_GCM_JSON if keys & {b"iv", b"tag"} else None
    return _json_format(doc) if isinstance(doc, dict) else None


def raise_if_legacy(head: bytes, *, path: str | None = None) -> None:
    """Raise the error that names the legacy layout, when ``head`` starts a legacy record.

    For readers of age files given something else: ``head`` is the first bytes of
    the input (64 KiB is plenty), ``path`` its name. The error (code ``legacy_file``,
    facts ``path`` and ``format``) quotes none of the input.

    Raises:
        FormatError: ``head`` starts a recognisable legacy record.
    """
    fmt = sniff(head)
    if fmt is None:
        return
    name = "the input" if path is None or path == "-" else path
    raise FormatError(
        f"{name} is not an age file: it is a record of the original recipes ({fmt})",
        code="legacy_file",
        facts={"path": path or "-", "format": str(fmt)},
        hint="read it with sealbox.keysets.legacy.decrypt, or rewrite it as an age file",
    )


def _text(value: object, name: str) -> str | bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if not isinstance(value, str):
        raise FormatError(f"{name!r} must be a base64 or hex string")
    return value.strip()


def _is_hex(text: str, size: int | None = None) -> bool:
    if size is not None and len(text) != 2 * size:
        return False
    return len(text) % 2 == 0 and _HEX_DIGITS.issuperset(text)


def _b64(text: str, name: str) -> bytes:
    """base64, standard or URL-safe, padded or not, wrapped over lines or not
    (``base64.encodebytes`` and ``openssl base64`` break their output)."""
    text = "".join(text.split())
    try:
        return base64.b64decode(
            text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4), validate=True
        )
    except (binascii.Error, ValueError):
        raise FormatError(f"{name!r} is neither hex nor base64") from None


def _fernet_json_fields(doc: Mapping[str, Any]) -> tuple[bytes, bytes]:
    """The salt and the Fernet token of a ``fernet-json`` record."""
    salt = _text(doc["salt"], "salt")
    if isinstance(salt, str):
        salt = bytes.fromhex(salt) if _is_hex(salt, SALT_SIZE) else _b64(salt, "salt")
    token = _text(doc["ciphertext"], "ciphertext")
    if isinstance(token, bytes) and token.startswith(_FERNET_PREFIX):
        return salt, token
    text = token.decode("ascii", "replace") if isinstance(token, bytes) else token
    # The three ways the token was stored start differently: as its text ("gAAAAA"),
    # as the base64 of its text ("Z0FBQUFB") or as the hex of it ("674141414141").
    if text.startswith(_FERNET_PREFIX.decode()):
        return salt, text.encode()
    if text.startswith(_FERNET_HEX_PREFIX.decode()) and _is_hex(text):
        return salt, bytes.fromhex(text)
    if text.startswith(_FERNET_B64_PREFIX.decode()):
        return salt, _b64(text, "ciphertext")
    raise FormatError("'ciphertext' is not a Fernet token (as its text, base64 or hex)")


def _aes_gcm_fields(doc: Mapping[str, Any]) -> tuple[bytes, bytes, bytes]:
    """The iv, ciphertext and tag of an ``aes-gcm-json`` record."""
    iv, ciphertext, tag = (_text(doc[k], k) for k in ("iv", "ciphertext", "tag"))
    if isinstance(iv, str) and isinstance(ciphertext, str) and isinstance(tag, str):
        # The sizes decide the encoding of the whole record: 24 hex digits of iv are
        # not the 16 base64 characters of 12 bytes, and hex digits are base64 characters
        # too, so the ciphertext follows the iv and the tag rather than a guess of its own.
        if _is_hex(iv, IV_SIZE) and _is_hex(tag, TAG_SIZE):
            if not _is_hex(ciphertext):
                raise FormatError("the iv and tag are hex, but the ciphertext is not")
            return bytes.fromhex(iv), bytes.fromhex(ciphertext), bytes.fromhex(tag)
        fields = (_b64(iv, "iv"), _b64(ciphertext, "ciphertext"), _b64(tag, "tag"))
    elif isinstance(iv, bytes) and isinstance(ciphertext, bytes) and isinstance(tag, bytes):
        fields = (iv, ciphertext, tag)
    else:
        raise FormatError("the iv, ciphertext and tag are not all text, nor all bytes")
    if len(fields[0]) != IV_SIZE or len(fields[2]) != TAG_SIZE:
        raise FormatError(
            "the AES-GCM iv must be 12 bytes and the tag 16, all fields in hex or all in base64"
        )
    return fields


def _padded(token: bytes) -> bytes:
    """The token with the ``=`` padding its base64 needs.

    Stores that trim base64 padding (URLs, some columns and exports) leave two tokens
    in three without it, and Fernet then refuses the token as if the password were
    wrong. The padding is not authenticated (the HMAC covers the decoded bytes), so
    restoring it reads exactly the token that was written.
    """
    token = token.strip()
    if any(c in token for c in b" \t\r\n"):
        token = b"".join(token.split())  # a token wrapped over lines
    missing = -len(token) % 4
    return token + b"=" * missing if missing else token  # no copy of a padded token


def _open_fernet(token: bytes, password: str | bytes | Secret[Any], salt: bytes) -> bytes:
    try:
        return Fernet(fernet_key(password, salt)).decrypt(_padded(token))
    except InvalidToken:
        raise DecryptionError(_WRONG) from None


def _open_gcm(key: bytes | Secret[bytes], record: bytes) -> bytes:
    raw_key = key.expose_secret() if isinstance(key, Secret) else bytes(key)
    if len(raw_key) != KEY_SIZE:
        raise ConfigError("the AES-256-GCM key must be 32 bytes")
    try:
        return AES256GCM(raw_key).decrypt(record)
    except DecryptionError:
        raise DecryptionError(_WRONG) from None


def decrypt_fernet_file(data: bytes, password: str | bytes | Secret[Any]) -> bytes:
    """Decrypt ``salt (16) || Fernet token``.

    Raises:
        FormatError: too short to hold a salt and a token, or a Fernet token alone
            (code ``legacy_fernet_token``).
        DecryptionError: wrong password, or the data was altered or cut short.
    """
    if len(data) <= SALT_SIZE:
        raise FormatError("the legacy file is too short to hold a salt and a token")
    if _is_bare_fernet_token(data):
        # Its first 16 characters would be taken for the salt: a wrong password, it
        # would seem, whatever password was given.
        raise _bare_fernet_token()
    return _open_fernet(data[SALT_SIZE:], password, data[:SALT_SIZE])


def decrypt_fernet_json(
    data: bytes | Mapping[str, Any], password: str | bytes | Secret[Any]
) -> bytes:
    """Decrypt ``{"salt": …, "ciphertext": …}`` (base64 or hex; the token also as its text).

    Raises:
        FormatError: not that document.
        DecryptionError: wrong password, or the data was altered.
    """
    doc = _json(data)
    if doc is None or not {"salt", "ciphertext"} <= doc.keys():
        raise FormatError("not a legacy Fernet JSON document (salt, ciphertext)")
    salt, token = _fernet_json_fields(doc)
    return _open_fernet(token, password, salt)


def decrypt_aes_gcm(data: bytes | Mapping[str, Any], key: bytes | Secret[bytes]) -> bytes:
    """Decrypt ``{"iv", "ciphertext", "tag"}`` (all hex or all base64, or bytes in a mapping).

    ``data`` may be the JSON text or the mapping itself, as the recipe returned it.

    Raises:
        ConfigError: the key is not 32 bytes.
        FormatError: not that document, or an iv/tag of the wrong size.
        DecryptionError: wrong key, or the data was altered.

    .. versionchanged:: 0.1.0
       Hex records.
    """
    doc = _json(data)
    if doc is None or not {"iv", "ciphertext", "tag"} <= doc.keys():
        raise FormatError("not a legacy AES-GCM document (iv, ciphertext, tag)")
    iv, ciphertext, tag = _aes_gcm_fields(doc)
    return _open_gcm(key, iv + ciphertext + tag)


def decrypt_aes_gcm_raw(data: bytes, key: bytes | Secret[bytes]) -> bytes:
    """Decrypt ``iv (12) || ciphertext || tag (16)`` under a raw 32-byte key.

    Raises:
        ConfigError: the key is not 32 bytes.
        FormatError: shorter than an iv and a tag.
        DecryptionError: wrong key, the data was altered, or it is not such a record.

    .. versionadded:: 0.1.0
    """
    if len(data) < IV_SIZE + TAG_SIZE:
        raise FormatError(
            f"a raw AES-GCM record holds at least {IV_SIZE + TAG_SIZE} bytes (iv and tag); "
            f"this one has {len(data)}"
        )
    return _open_gcm(key, data)


def decrypt(
    data: bytes,
    *,
    password: str | bytes | Secret[Any] | None = None,
    key: bytes | Secret[bytes] | None = None,
    format: LegacyFormat | str | None = None,  # noqa: A002 - the layout's name, as in the CLI
) -> bytes:
    """Decrypt a legacy record: a password for Fernet, a key for AES-GCM.

    Args:
        data: the record, as stored.
        password: the password of a Fernet record.
        key: the raw 32-byte key of an AES-GCM record.
        format: the layout (:class:`LegacyFormat` or its name); detected when
            omitted, and a raw AES-GCM record must be named.

    Raises:
        ConfigError: the layout needs a password (code ``passphrase_needed``) or a key
            (code ``key_file_needed``) that was not given; an unknown layout name.
        FormatError, DecryptionError: as :func:`detect` and the function for each layout.

    .. versionchanged:: 0.1.0
       ``format``.
    """
    fmt = detect(data) if format is None else _layout(format)
    if fmt.uses_key:
        if key is None:
            raise ConfigError(
                f"this is an AES-GCM record ({fmt}): it needs its raw 32-byte key",
                hint="pass key=",
                code="key_file_needed",
            )
        if fmt is LegacyFormat.AES_GCM_RAW:
            return decrypt_aes_gcm_raw(data, key)
        return decrypt_aes_gcm(data, key)
    if password is None:
        raise ConfigError(
            f"this is a Fernet record ({fmt}): it is opened with its password, not a key",
            hint="pass password=",
            code="passphrase_needed",
        )
    if fmt is LegacyFormat.FERNET_JSON:
        return decrypt_fernet_json(data, password)
    return decrypt_fernet_file(data, password)


def _layout(name: LegacyFormat | str) -> LegacyFormat:
    try:
        return LegacyFormat(name)
    except ValueError:
        known = ", ".join(f.value for f in LegacyFormat)
        raise ConfigError(f"unknown legacy layout {name!r} (known: {known})") from None


def parse_key(data: bytes) -> Secret[bytes]:
    """The 32-byte AES-256-GCM key in ``data``: raw bytes, or hex or base64 text.

    Raises:
        KeyFormatError: not a 32-byte key in any of these forms (the message quotes
            nothing of it).

    .. versionadded:: 0.1.0
    """
    if len(data) == KEY_SIZE:
        return Secret(bytes(data))
    text = data.strip().decode("ascii", "replace")
    key = b""
    if _is_hex(text, KEY_SIZE):
        key = bytes.fromhex(text)
    else:
        try:
            key = _b64(text, "key")
        except FormatError:
            key = b""
    if len(key) != KEY_SIZE:
        raise KeyFormatError("not a 32-byte AES-256-GCM key (raw, hex or base64)")
    return Secret(key)
