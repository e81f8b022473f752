"""Transit keys: key types, versions, and the operations of encryption as a service.

A transit key has a name, a type and numbered versions (1, 2, …). Encrypting,
signing and HMACs use the newest version (or a chosen one, never below
``min_encryption_version``); decrypting and verifying pick the version named in
the input, refused below ``min_decryption_version``. Every primitive is sealbox's
own (:mod:`sealbox.hazmat.aead`, :mod:`sealbox.keys.asymmetric`):

=====================  ==========================================  ===================
type                   operations                                  material
=====================  ==========================================  ===================
``aes256-gcm``         encrypt, decrypt, rewrap, datakey           32 random bytes
``chacha20-poly1305``  encrypt, decrypt, rewrap, datakey           32 random bytes
``aes256-siv``         the same, deterministic (RFC 5297)          64 random bytes
``hmac``               hmac, verify (HMAC-SHA-256, RFC 2104)       32 random bytes
``ed25519``            sign, verify (RFC 8032)                     PKCS#8 PEM
``ecdsa-p256``         sign, verify (SHA-256, DER)                 PKCS#8 PEM
``rsa-3072``           sign, verify (PSS, SHA-256, 32-byte salt)   PKCS#8 PEM
=====================  ==========================================  ===================

Ciphertexts, signatures and HMACs travel as text: ``sealbox:v<N>:<base64>``,
where ``N`` is the key version in decimal and the base64 (standard alphabet,
padded) holds the primitive's output: ``nonce (12) || ciphertext || tag (16)``
for AES-256-GCM and ChaCha20-Poly1305, ``synthetic IV (16) || ciphertext`` for
AES-256-SIV, the signature, or the 32-byte HMAC. The caller's associated data is
the AEAD's associated data, unchanged.

Key material is stored sealed under the service's master key (see
:func:`seal_material`); this module never logs, formats or returns it except
through :func:`export_text`, which callers use only for exportable keys.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sealbox.exceptions import DecryptionError, InvalidSignatureError
from sealbox.hazmat.aead import AES256GCM, AES256SIV, HMACSHA256, ChaCha20Poly1305
from sealbox.keys.asymmetric import KeyType, PrivateKey
from sealbox.service.errors import ErrorCode

__all__ = [
    "DATAKEY_BITS",
    "ENCRYPTION_TYPES",
    "HMAC_TYPES",
    "KEY_TYPES",
    "OPERATIONS",
    "SIGNING_TYPES",
    "KeyVersion",
    "TransitError",
    "TransitKey",
    "export_text",
    "format_versioned",
    "new_material",
    "open_material",
    "parse_versioned",
    "peek_version",
    "seal_material",
]

_Cipher = AES256GCM | ChaCha20Poly1305 | AES256SIV

ENCRYPTION_TYPES: Final[dict[str, type[_Cipher]]] = {
    "aes256-gcm": AES256GCM,
    "chacha20-poly1305": ChaCha20Poly1305,
    "aes256-siv": AES256SIV,
}
SIGNING_TYPES: Final[dict[str, tuple[KeyType, int | None]]] = {
    "ed25519": (KeyType.ED25519, None),
    "ecdsa-p256": (KeyType.ECDSA_P256, None),
    "rsa-3072": (KeyType.RSA, 3072),
}
HMAC_TYPES: Final = frozenset({"hmac"})
KEY_TYPES: Final = (*ENCRYPTION_TYPES, *HMAC_TYPES, *SIGNING_TYPES)
"""Every key type, in the order the documentation lists them."""

OPERATIONS: Final = ("encrypt", "decrypt", "rewrap", "datakey", "sign", "verify", "hmac")
"""The operations on a key, each guarded by the scope ``transit:<operation>:<name>``."""

DATAKEY_BITS: Final = (128, 256, 512)
HMAC_KEY_SIZE: Final = 32
PREFIX: Final = "sealbox:v"
# Sealed material: a format byte, then AES-256-GCM under the master key.
MATERIAL_VERSION: Final = b"\x01"
MATERIAL_LABEL: Final = b"sealbox-transit-key/1"
# Versions are stored in a 32-bit signed column.
MAX_VERSION: Final = 2**31 - 1


class TransitError(Exception):
    """An operation was refused: an HTTP status, a stable code and a message for people.

    Messages name keys, versions and types, never key material or input data.
    """

    def __init__(self, status: int, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _unsupported(key_type: str, operation: str) -> TransitError:
    if operation in ("encrypt", "decrypt", "rewrap", "datakey"):
        fits = ", ".join(ENCRYPTION_TYPES)
    elif operation == "hmac":
        fits = "hmac"
    else:
        fits = ", ".join(SIGNING_TYPES)
    return TransitError(
        400,
        ErrorCode.UNSUPPORTED_OPERATION,
        f"{key_type} keys cannot {operation}: use a key of type {fits}",
    )


# -- material ---------------------------------------------------------------------------


def new_material(key_type: str) -> bytes:
    """Fresh key material for one version (RSA takes a while: call it off the event loop).

    Raises:
        TransitError: an unknown type.
    """
    cipher = ENCRYPTION_TYPES.get(key_type)
    if cipher is not None:
        return cipher.generate_key()
    if key_type in HMAC_TYPES:
        return os.urandom(HMAC_KEY_SIZE)
    spec = SIGNING_TYPES.get(key_type)
    if spec is None:
        raise TransitError(
            400,
            ErrorCode.VALIDATION_ERROR,
            f"unknown key type {key_type!r}: choose one of {', '.join(KEY_TYPES)}",
        )
    kind, bits = spec
    return PrivateKey.generate(kind, bits=bits).export_private(None, format="pem")


def _material_ad(name: str, key_type: str, version: int) -> bytes:
    return b"\x00".join((MATERIAL_LABEL, name.encode(), key_type.encode(), str(version).encode()))


def seal_material(
    master_key: bytes, name: str, key_type: str, version: int, material: bytes
) -> bytes:
    """Seal one version's material for the database.

    AES-256-GCM under the master key; the associated data is
    ``"sealbox-transit-key/1" 0x00 name 0x00 type 0x00 version`` (decimal), so a
    row copied to another key, type or version does not open.
    """
    sealed = AES256GCM(master_key).encrypt(material, _material_ad(name, key_type, version))
    return MATERIAL_VERSION + sealed


def open_material(
    master_key: bytes, name: str, key_type: str, version: int, sealed: bytes
) -> bytes:
    """Open what :func:`seal_material` sealed.

    Raises:
        DecryptionError: a wrong master key, or the row was altered or moved.
    """
    if sealed[:1] != MATERIAL_VERSION:
        raise DecryptionError(f"transit key {name!r} version {version} is not sealed material")
    try:
        return AES256GCM(master_key).decrypt(sealed[1:], _material_ad(name, key_type, version))
    except DecryptionError:
        raise DecryptionError(
            f"cannot open transit key {name!r} version {version}: wrong master key, "
            "or the database row was altered"
        ) from None


def _primitive(key_type: str, material: bytes) -> Any:
    cipher = ENCRYPTION_TYPES.get(key_type)
    if cipher is not None:
        return cipher(material)
    if key_type in HMAC_TYPES:
        return HMACSHA256(material)
    return PrivateKey.from_bytes(material, what="a transit key")


# -- text form --------------------------------------------------------------------------


def format_versioned(version: int, data: bytes) -> str:
    """``sealbox:v<version>:<standard base64 of data>``."""
    return f"{PREFIX}{version}:{base64.b64encode(data).decode()}"


def peek_version(text: object) -> int | None:
    """The version a ``sealbox:v<N>:…`` string names, or ``None`` if it is not one."""
    if not isinstance(text, str) or not text.startswith(PREFIX):
        return None
    digits, sep, _ = text[len(PREFIX) :].partition(":")
    if not sep or not digits.isascii() or not digits.isdigit() or digits[0] == "0":
        return None
    if len(digits) > 10:
        return None
    version = int(digits)
    return version if version <= MAX_VERSION else None


def parse_versioned(text: object, what: str = "ciphertext") -> tuple[int, bytes]:
    """Split ``sealbox:v<N>:<base64>`` into the version and the bytes.

    Raises:
        TransitError: not in that form (``invalid_ciphertext``).
    """
    version = peek_version(text)
    if version is None:
        raise TransitError(
            400,
            ErrorCode.INVALID_CIPHERTEXT,
            f"the {what} is not in the form sealbox:v<N>:<base64>",
        )
    assert isinstance(text, str)
    body = text[len(PREFIX) + len(str(version)) + 1 :]
    try:
        return version, base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise TransitError(
            400, ErrorCode.INVALID_CIPHERTEXT, f"the {what} is not valid base64 after its prefix"
        ) from None


# -- keys -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class KeyVersion:
    """One version of a key: its creation time and the primitive keyed with its material."""

    version: int
    created_at: datetime
    primitive: Any

    def __repr__(self) -> str:
        return f"KeyVersion(version={self.version})"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("KeyVersion holds key material and cannot be pickled")


@dataclass(frozen=True, slots=True, repr=False)
class TransitKey:
    """A snapshot of one named key: configuration and every version, ready to use.

    Snapshots never change: a rotation or a new configuration makes a new one,
    so a request works on one consistent view even while another changes the key.
    """

    name: str
    type: str
    latest_version: int
    min_decryption_version: int
    min_encryption_version: int
    deletion_allowed: bool
    exportable: bool
    created_at: datetime
    updated_at: datetime
    versions: Mapping[int, KeyVersion] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"TransitKey(name={self.name!r}, type={self.type!r}, latest={self.latest_version})"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("TransitKey holds key material and cannot be pickled")

    @staticmethod
    def build(record: Any, versions: Mapping[int, tuple[datetime, bytes]]) -> TransitKey:
        """A snapshot from a ``transit_keys`` row and the opened material of its versions."""
        return TransitKey(
            name=record.name,
            type=record.type,
            latest_version=record.latest_version,
            min_decryption_version=record.min_decryption_version,
            min_encryption_version=record.min_encryption_version,
            deletion_allowed=record.deletion_allowed,
            exportable=record.exportable,
            created_at=record.created_at,
            updated_at=record.updated_at,
            versions={
                v: KeyVersion(v, created, _primitive(record.type, material))
                for v, (created, material) in versions.items()
            },
        )

    # -- versions ---------------------------------------------------------------------

    def _require(self, operation: str) -> None:
        allowed = (
            ENCRYPTION_TYPES
            if operation in ("encrypt", "decrypt", "rewrap", "datakey")
            else HMAC_TYPES
            if operation == "hmac"
            else SIGNING_TYPES
        )
        if self.type not in allowed:
            raise _unsupported(self.type, operation)

    def for_encryption(self, requested: int = 0) -> KeyVersion:
        """The version to encrypt, sign or HMAC with: ``requested``, or the latest when 0.

        Raises:
            TransitError: the version does not exist or is below ``min_encryption_version``.
        """
        version = requested or self.latest_version
        if version > self.latest_version or version not in self.versions:
            raise TransitError(
                400,
                ErrorCode.INVALID_KEY_VERSION,
                f"key {self.name!r} has no version {version} (the latest is {self.latest_version})",
            )
        floor = max(self.min_encryption_version, self.min_decryption_version)
        if version < floor:
            raise TransitError(
                400,
                ErrorCode.INVALID_KEY_VERSION,
                f"key version {version} is below the key's minimum version for new data ({floor})",
            )
        return self.versions[version]

    def for_decryption(self, version: int, what: str = "ciphertext") -> KeyVersion:
        """The version that made a ciphertext, signature or HMAC.

        Raises:
            TransitError: ``key_version_too_old`` below ``min_decryption_version``;
                ``invalid_key_version`` when it does not exist.
        """
        if version < self.min_decryption_version:
            raise TransitError(
                400,
                ErrorCode.KEY_VERSION_TOO_OLD,
                f"the {what} was made with version {version} of key {self.name!r}, below its "
                f"min_decryption_version {self.min_decryption_version}: it is no longer accepted",
            )
        found = self.versions.get(version)
        if found is None:
            raise TransitError(
                400,
                ErrorCode.INVALID_KEY_VERSION,
                f"the {what} names version {version} of key {self.name!r}, which does not exist "
                f"(the latest is {self.latest_version})",
            )
        return found

    # -- operations -------------------------------------------------------------------

    def encrypt(
        self, plaintext: bytes, associated_data: bytes, version: int = 0
    ) -> tuple[str, int]:
        """Encrypt; return the ``sealbox:v<N>:`` ciphertext and ``N``."""
        self._require("encrypt")
        kv = self.for_encryption(version)
        try:
            sealed = kv.primitive.encrypt(plaintext, associated_data)
        except ValueError:
            # AES-SIV (RFC 5297 allows it, OpenSSL does not) refuses an empty plaintext.
            raise TransitError(
                400,
                ErrorCode.INVALID_REQUEST,
                f"{self.type} keys cannot encrypt an empty plaintext",
            ) from None
        return format_versioned(kv.version, sealed), kv.version

    def decrypt(self, ciphertext: str, associated_data: bytes) -> bytes:
        """Decrypt a ``sealbox:v<N>:`` ciphertext.

        Raises:
            TransitError: malformed, too old, unknown version, or it does not
                authenticate (one fixed message: ``decryption_failed``).
        """
        self._require("decrypt")
        version, data = parse_versioned(ciphertext)
        kv = self.for_decryption(version)
        try:
            plaintext: bytes = kv.primitive.decrypt(data, associated_data)
        except DecryptionError:
            raise TransitError(
                400,
                ErrorCode.DECRYPTION_FAILED,
                "decryption failed: the ciphertext was altered, or the key or associated "
                "data differs",
            ) from None
        return plaintext

    def rewrap(self, ciphertext: str, associated_data: bytes, version: int = 0) -> tuple[str, int]:
        """Decrypt, then encrypt with ``version`` (the latest when 0); the plaintext stays here."""
        self._require("rewrap")
        return self.encrypt(self.decrypt(ciphertext, associated_data), associated_data, version)

    def datakey(
        self, bits: int, associated_data: bytes, version: int = 0
    ) -> tuple[bytes, str, int]:
        """A fresh random data key of ``bits`` bits and its ciphertext under this key."""
        self._require("datakey")
        if bits not in DATAKEY_BITS:
            raise TransitError(400, ErrorCode.INVALID_REQUEST, "bits must be 128, 256 or 512")
        data_key = os.urandom(bits // 8)
        ciphertext, used = self.encrypt(data_key, associated_data, version)
        return data_key, ciphertext, used

    def sign(self, data: bytes, version: int = 0) -> tuple[str, int]:
        """Sign ``data``; return the ``sealbox:v<N>:`` signature and ``N``."""
        self._require("sign")
        kv = self.for_encryption(version)
        return format_versioned(kv.version, kv.primitive.sign(data)), kv.version

    def verify(self, data: bytes, signature: str) -> bool:
        """Whether ``signature`` (from :meth:`sign`) is valid for ``data``.

        Raises:
            TransitError: the signature is malformed, too old or names no version.
        """
        self._require("verify")
        version, raw = parse_versioned(signature, "signature")
        kv = self.for_decryption(version, "signature")
        try:
            kv.primitive.public_key.verify(raw, data)
        except InvalidSignatureError:
            return False
        return True

    def hmac(self, data: bytes, version: int = 0) -> tuple[str, int]:
        """HMAC-SHA-256 of ``data``; return the ``sealbox:v<N>:`` tag and ``N``."""
        self._require("hmac")
        kv = self.for_encryption(version)
        return format_versioned(kv.version, kv.primitive.sign(data)), kv.version

    def verify_hmac(self, data: bytes, tag: str) -> bool:
        """Whether ``tag`` (from :meth:`hmac`) is the HMAC of ``data`` (constant time)."""
        self._require("hmac")
        version, raw = parse_versioned(tag, "hmac")
        kv = self.for_decryption(version, "hmac")
        try:
            kv.primitive.verify(data, raw)
        except InvalidSignatureError:
            return False
        return True

    # -- description ------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """The key as ``GET /v1/keys/{name}`` shows it: configuration and public facts only."""
        keys: dict[str, dict[str, str]] = {}
        for v in sorted(self.versions):
            kv = self.versions[v]
            entry = {"creation_time": _iso(kv.created_at)}
            if self.type in SIGNING_TYPES:
                public = kv.primitive.public_key
                entry["public_key"] = (
                    base64.b64encode(public.raw()).decode()
                    if self.type == "ed25519"
                    else public.pem().decode()
                )
            keys[str(v)] = entry
        return {
            "name": self.name,
            "type": self.type,
            "latest_version": self.latest_version,
            "min_decryption_version": self.min_decryption_version,
            "min_encryption_version": self.min_encryption_version,
            "deletion_allowed": self.deletion_allowed,
            "exportable": self.exportable,
            "supports_encryption": self.type in ENCRYPTION_TYPES,
            "supports_decryption": self.type in ENCRYPTION_TYPES,
            "supports_signing": self.type in SIGNING_TYPES,
            "supports_hmac": self.type in HMAC_TYPES,
            "deterministic": self.type == "aes256-siv",
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "keys": keys,
        }


def export_text(key_type: str, material: bytes) -> str:
    """How an exported version's material is shown: base64 raw bytes, or the PKCS#8 PEM."""
    if key_type in SIGNING_TYPES:
        return material.decode()
    return base64.b64encode(material).decode()


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
