"""Small JSON documents sealed at rest: a passphrase (Argon2id) and AES-256-GCM.

This is the scheme :meth:`sealbox.Keyring.encrypt` uses, shared so that every
secret file sealbox keeps (keyrings, JWT signing keysets) is protected the same
way. A sealed document is JSON::

    {"format": "<what>-sealed/1",
     "kdf": {"name": "argon2id", "time_cost": 3, "memory_cost": 65536,
             "parallelism": 4, "salt": "<base64url>"},
     "cipher": "aes-256-gcm",
     "data": "<base64url of nonce | ciphertext | tag>"}

The header (every member but ``data``, as canonical JSON) is the AEAD's
associated data, so a changed cost parameter or format name fails to open.

The :class:`Sealer` protocol is the seam for other protections: a passphrase
today (:class:`PassphraseSealer`), age recipients when a caller supplies a sealer
built on ``sealbox.age``.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from sealbox.exceptions import DecryptionError, FormatError, UnsupportedAlgorithmError
from sealbox.hazmat import kdf
from sealbox.hazmat.aead import AES256GCM
from sealbox.secret import Secret

__all__ = ["PassphraseSealer", "Sealer", "sealed_kdf_params"]


@runtime_checkable
class Sealer(Protocol):
    """Protects a document at rest: ``seal`` and ``open`` are inverses.

    ``open`` raises :class:`~sealbox.exceptions.FormatError` for data that is not
    in its format and :class:`~sealbox.exceptions.DecryptionError` when the data
    does not authenticate.
    """

    def seal(self, plaintext: bytes) -> bytes:
        """Return ``plaintext`` protected."""
        ...

    def open(self, data: bytes) -> bytes:
        """Return the plaintext of ``data`` made by :meth:`seal`."""
        ...


class PassphraseSealer:
    """Seal documents under a passphrase: Argon2id (RFC 9106) then AES-256-GCM.

    Args:
        passphrase: the passphrase (``str`` is NFC-normalised, see
            :func:`sealbox.hazmat.kdf.passphrase_bytes`).
        format: the document's format name, e.g. ``"sealbox-jwt-keyset-sealed/1"``.
        what: how error messages name the document (``"keyset"``).
        kdf_params: Argon2id costs used when sealing.
        kdf_ceiling: the highest costs accepted when opening.
    """

    __slots__ = ("_ceiling", "_format", "_params", "_passphrase", "_what")

    def __init__(
        self,
        passphrase: str | bytes | Secret[Any],
        *,
        format: str,  # noqa: A002 - the document member it writes is called "format"
        what: str = "document",
        kdf_params: kdf.Argon2idParams = kdf.ARGON2ID_DEFAULT,
        kdf_ceiling: kdf.Argon2idParams = kdf.ARGON2ID_CEILING,
    ) -> None:
        self._passphrase: Secret[Any]
        if isinstance(passphrase, Secret):
            self._passphrase = passphrase
        elif isinstance(passphrase, str):
            self._passphrase = Secret(passphrase)
        elif isinstance(passphrase, bytes | bytearray | memoryview):
            self._passphrase = Secret(bytes(passphrase))
        else:
            # bytes(1234) is 1234 zero bytes: an int must not become a passphrase.
            raise TypeError(
                f"the passphrase must be str, bytes or Secret, not {type(passphrase).__name__}"
            )
        kdf.passphrase_bytes(self._passphrase)  # refused now, not at the first seal
        self._format = format
        self._what = what
        self._params = kdf_params
        self._ceiling = kdf_ceiling

    def __repr__(self) -> str:
        return f"PassphraseSealer(format={self._format!r})"

    def __reduce__(self) -> Any:
        raise TypeError("PassphraseSealer cannot be pickled: it holds a passphrase")

    def seal(self, plaintext: bytes) -> bytes:
        """Return the sealed JSON document holding ``plaintext``."""
        salt = os.urandom(kdf.SALT_SIZE)
        params = self._params.to_dict()
        params["salt"] = b64e(salt)
        header = {"format": self._format, "kdf": params, "cipher": AES256GCM.ALGORITHM}
        key = kdf.argon2id(self._passphrase, salt, self._params)
        body = AES256GCM(key).encrypt(plaintext, _header_aad(header))
        return json.dumps({**header, "data": b64e(body)}, indent=2).encode() + b"\n"

    def open(self, data: bytes) -> bytes:
        """Return the plaintext of a document made by :meth:`seal`.

        Raises:
            FormatError: not a sealed document of this format, or Argon2id costs
                above the ceiling.
            UnsupportedAlgorithmError: an unknown cipher.
            DecryptionError: wrong passphrase, or the document was altered.
        """
        what = self._what
        try:
            doc = json.loads(data)
        except (ValueError, RecursionError):  # not UTF-8 or JSON, an int too long, deep nesting
            raise FormatError(f"not a sealbox {what} file (not JSON)") from None
        if not isinstance(doc, dict) or doc.get("format") != self._format:
            raise FormatError(f"not a sealbox {what} file: 'format' must be {self._format!r}")
        if "cipher" not in doc:
            # A damaged file, not one from a newer sealbox: every sealed document has one.
            raise FormatError(f"not a sealbox {what} file: it has no 'cipher'")
        if doc.get("cipher") != AES256GCM.ALGORITHM:
            raise UnsupportedAlgorithmError(f"unknown {what} cipher {doc.get('cipher')!r}")
        params = kdf.Argon2idParams.from_dict(doc.get("kdf"), ceiling=self._ceiling)
        kdf_doc = doc["kdf"]
        salt = b64d(kdf_doc.get("salt"), "kdf.salt")
        if len(salt) < kdf.SALT_SIZE:
            raise FormatError(f"kdf.salt must be at least {kdf.SALT_SIZE} bytes")
        body = b64d(doc.get("data"), "data")
        header = {"format": self._format, "kdf": kdf_doc, "cipher": doc["cipher"]}
        key = kdf.argon2id(self._passphrase, salt, params)
        try:
            return AES256GCM(key).decrypt(body, _header_aad(header))
        except DecryptionError:
            raise DecryptionError(
                f"cannot open the {what}: wrong passphrase, or the file was altered"
            ) from None


def sealed_kdf_params(data: bytes, format_name: str) -> kdf.Argon2idParams | None:
    """The Argon2id costs in the header of a document sealed by :class:`PassphraseSealer`.

    Read from the JSON header alone: no key is derived, so a caller learns how a file
    it opened was protected without paying for the derivation again. ``None`` when
    ``data`` is not a sealed document named ``format_name`` (an age file, another
    sealer's form) or its costs are not valid ones within
    :data:`~sealbox.hazmat.kdf.ARGON2ID_CEILING`.

    .. versionadded:: 0.1.0
    """
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or doc.get("format") != format_name:
        return None
    try:
        return kdf.Argon2idParams.from_dict(doc.get("kdf"))
    except FormatError:
        return None


def _header_aad(header: dict[str, Any]) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()


def b64e(data: bytes) -> str:
    """URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(value: object, where: str) -> bytes:
    """Decode URL-safe base64 (padding optional) or raise :class:`FormatError` naming ``where``."""
    if not isinstance(value, str):
        raise FormatError(f"{where} must be a base64 string")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise FormatError(f"{where} is not valid base64") from None


def format_time(t: datetime) -> str:
    """An RFC 3339 UTC time with whole seconds, as sealbox's JSON documents store times."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: object, where: str) -> datetime:
    """Read an RFC 3339 time that carries a zone, or raise :class:`FormatError` naming ``where``."""
    if not isinstance(value, str):
        raise FormatError(f"{where} must be an RFC 3339 time")
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise FormatError(f"{where} must be an RFC 3339 time") from None
    if t.tzinfo is None:
        raise FormatError(f"{where} must carry a time zone")
    return t.astimezone(UTC)
