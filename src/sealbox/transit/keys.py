"""Transit keys: named, typed, with numbered versions, and the operations on them.

A transit key has a name, a type (see :mod:`sealbox.transit.registry`) and numbered
versions (1, 2, …). The version rules, :class:`KeyVersion` and each version's state are
in :mod:`sealbox.transit.versions`; the fast paths over many items in
:mod:`sealbox.transit.bulk`. Both are bases of :class:`TransitKey` and their names
still import from here.

A :class:`TransitKey` is a snapshot: it never changes, and holds each version's
primitive ready to use. It never shows, formats or pickles key material.

Example::

    from sealbox.transit import TransitKey

    key = TransitKey.generate("orders", "aes256-gcm")
    ciphertext, version = key.encrypt(b"card 4111", b"order:42")
    assert key.decrypt(ciphertext, b"order:42") == b"card 4111"

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sealbox.exceptions import DecryptionError, InvalidSignatureError
from sealbox.transit.bulk import DECRYPTION_FAILED, BulkOperations
from sealbox.transit.errors import InvalidKeyVersionError, InvalidRequestError
from sealbox.transit.formats import MAX_VERSION, format_versioned, parse_versioned
from sealbox.transit.registry import DATAKEY_BITS, Family, key_type
from sealbox.transit.versions import (
    HMAC_KEY_LABEL,
    KeyVersion,
    check_version_rules,
    key_versions,
)

__all__ = ["HMAC_KEY_LABEL", "KeyVersion", "TransitKey", "check_version_rules"]


@dataclass(frozen=True, slots=True, repr=False)
class TransitKey(BulkOperations):
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

    # -- construction -----------------------------------------------------------------

    @classmethod
    def from_versions(
        cls,
        name: str,
        key_type_name: str,
        versions: Mapping[int, tuple[datetime, bytes]],
        *,
        min_decryption_version: int = 1,
        min_encryption_version: int = 0,
        deletion_allowed: bool = False,
        exportable: bool = False,
        created_at: datetime | None = None,
        updated_at: datetime | None = None,
    ) -> TransitKey:
        """A key from each version's creation time and material (``{1: (when, material)}``).

        The latest version is the highest one given.

        Raises:
            UnknownKeyTypeError: an unknown type.
            InvalidKeyVersionError: no versions, or the version rules are broken.
            KeyFormatError: (code ``bad_key_format``) a version's material is not a key
                of this type: a wrong size, or another type or size of private key.
        """
        entry = key_type(key_type_name)
        if not versions or min(versions) < 1 or max(versions) > MAX_VERSION:
            raise InvalidKeyVersionError(
                f"key {name!r} needs versions between 1 and {MAX_VERSION}", facts={"key": name}
            )
        latest = max(versions)
        check_version_rules(latest, min_decryption_version, min_encryption_version)
        first = min(created for created, _ in versions.values())
        return cls(
            name=name,
            type=entry.name,
            latest_version=latest,
            min_decryption_version=min_decryption_version,
            min_encryption_version=min_encryption_version,
            deletion_allowed=deletion_allowed,
            exportable=exportable,
            created_at=created_at or first,
            updated_at=updated_at or created_at or first,
            versions=key_versions(entry, versions),
        )

    @classmethod
    def generate(cls, name: str, key_type_name: str, *, now: datetime | None = None) -> TransitKey:
        """A new key with version 1 made of fresh material (held in memory only).

        Raises:
            UnknownKeyTypeError: an unknown type.
        """
        entry = key_type(key_type_name)
        at = now or datetime.now(UTC)
        return cls.from_versions(name, entry.name, {1: (at, entry.generate())})

    @staticmethod
    def build(record: Any, versions: Mapping[int, tuple[datetime, bytes]]) -> TransitKey:
        """A snapshot from a stored key's row (its attributes are this class's fields)
        and the opened material of its versions."""
        entry = key_type(record.type)
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
            versions=key_versions(entry, versions),
        )

    # -- operations -------------------------------------------------------------------

    def encrypt(
        self, plaintext: bytes, associated_data: bytes = b"", version: int = 0
    ) -> tuple[str, int]:
        """Encrypt; return the ``sealbox:v<N>:`` ciphertext and ``N``.

        Raises:
            UnsupportedOperationError: the type does not encrypt.
            InvalidKeyVersionError: see :meth:`for_encryption`.
            InvalidRequestError: an empty plaintext for ``aes256-siv``.
        """
        self.spec.require("encrypt")
        kv = self.for_encryption(version)
        try:
            sealed = kv.primitive.encrypt(plaintext, associated_data)
        except ValueError:
            raise self._empty_refused() from None
        return format_versioned(kv.version, sealed), kv.version

    def decrypt(self, ciphertext: str, associated_data: bytes = b"") -> bytes:
        """Decrypt a ``sealbox:v<N>:`` ciphertext.

        Raises:
            InvalidCiphertextError: not in that form.
            KeyVersionTooOldError, InvalidKeyVersionError: see :meth:`for_decryption`.
            DecryptionError: it does not authenticate (one fixed message).
        """
        self.spec.require("decrypt")
        version, data = parse_versioned(ciphertext)
        return self._open(version, data, associated_data)

    def decrypt_parsed(self, version: int, data: bytes, associated_data: bytes = b"") -> bytes:
        """:meth:`decrypt` of a ciphertext already split into its version and bytes
        (:func:`~sealbox.transit.formats.parse_versioned`), for a batch that decoded its
        ciphertexts' base64 together.

        Raises:
            UnsupportedOperationError: the type does not decrypt.
            KeyVersionTooOldError, InvalidKeyVersionError: see :meth:`for_decryption`.
            DecryptionError: it does not authenticate (one fixed message).

        .. versionadded:: 0.1.0
        """
        self.spec.require("decrypt")
        return self._open(version, data, associated_data)

    def _open(self, version: int, data: bytes, associated_data: bytes) -> bytes:
        kv = self.for_decryption(version)
        try:
            plaintext: bytes = kv.primitive.decrypt(data, associated_data)
        except DecryptionError:
            raise DecryptionError(DECRYPTION_FAILED) from None
        return plaintext

    def rewrap(
        self, ciphertext: str, associated_data: bytes = b"", version: int = 0
    ) -> tuple[str, int]:
        """Decrypt, then encrypt with ``version`` (the latest when 0); the plaintext stays here."""
        self.spec.require("rewrap")
        return self.encrypt(self.decrypt(ciphertext, associated_data), associated_data, version)

    def datakey(
        self, bits: int = 256, associated_data: bytes = b"", version: int = 0
    ) -> tuple[bytes, str, int]:
        """A fresh random data key of ``bits`` bits, its ciphertext under this key, and ``N``.

        Raises:
            InvalidRequestError: ``bits`` is not 128, 256 or 512.
        """
        self.spec.require("datakey")
        if bits not in DATAKEY_BITS:
            raise InvalidRequestError("bits must be 128, 256 or 512", facts={"bits": bits})
        data_key = os.urandom(bits // 8)
        ciphertext, used = self.encrypt(data_key, associated_data, version)
        return data_key, ciphertext, used

    def sign(self, data: bytes, version: int = 0) -> tuple[str, int]:
        """Sign ``data``; return the ``sealbox:v<N>:`` signature and ``N``."""
        self.spec.require("sign")
        kv = self.for_encryption(version)
        return format_versioned(kv.version, kv.primitive.sign(data)), kv.version

    def verify(self, data: bytes, signature: str) -> bool:
        """Whether ``signature`` (from :meth:`sign`) is valid for ``data``.

        Raises:
            InvalidCiphertextError, KeyVersionTooOldError, InvalidKeyVersionError: the
                signature is malformed, too old or names no version.
        """
        self.spec.require("verify", Family.SIGNATURE)
        version, raw = parse_versioned(signature, "signature")
        kv = self.for_decryption(version, "signature")
        try:
            kv.primitive.public_key.verify(raw, data)
        except InvalidSignatureError:
            return False
        return True

    def hmac(self, data: bytes, version: int = 0) -> tuple[str, int]:
        """HMAC-SHA-256 of ``data``; return the ``sealbox:v<N>:`` tag and ``N``."""
        self.spec.require("hmac")
        kv = self.for_encryption(version)
        return format_versioned(kv.version, kv.primitive.sign(data)), kv.version

    def verify_hmac(self, data: bytes, tag: str) -> bool:
        """Whether ``tag`` (from :meth:`hmac`) is the HMAC of ``data`` (constant time)."""
        self.spec.require("hmac")
        version, raw = parse_versioned(tag, "hmac")
        kv = self.for_decryption(version, "hmac")
        try:
            kv.primitive.verify(data, raw)
        except InvalidSignatureError:
            return False
        return True

    def version_hmac(self, data: bytes, version: int = 0) -> tuple[str, int]:
        """HMAC-SHA-256 of ``data`` with the version's HMAC key, for a key of any type.

        Vault Transit's ``hmac``: an ``hmac`` key uses its own key (the same tag as
        :meth:`hmac`); any other type a key derived from the version's material
        (:data:`~sealbox.transit.versions.HMAC_KEY_LABEL`), never the material itself.

        Raises:
            InvalidKeyVersionError: see :meth:`for_encryption`.
        """
        kv = self.for_encryption(version)
        return format_versioned(kv.version, kv.hmac_key.sign(data)), kv.version

    def verify_version_hmac(self, data: bytes, tag: str) -> bool:
        """Whether ``tag`` (from :meth:`version_hmac`) is the HMAC of ``data`` (constant time)."""
        version, raw = parse_versioned(tag, "hmac")
        kv = self.for_decryption(version, "hmac")
        try:
            kv.hmac_key.verify(data, raw)
        except InvalidSignatureError:
            return False
        return True

    # -- description ------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """The key as ``GET /v1/keys/{name}`` shows it: configuration and public facts only.

        ``version_states`` gives each version's :class:`~sealbox.keysets.lifecycle.KeyState`.
        """
        spec = self.spec
        keys: dict[str, dict[str, str]] = {}
        for v in sorted(self.versions):
            kv = self.versions[v]
            entry = {"creation_time": _iso(kv.created_at)}
            if spec.public_key is not None:
                entry["public_key"] = spec.public_key(kv.primitive)
            keys[str(v)] = entry
        return {
            "name": self.name,
            "type": self.type,
            "latest_version": self.latest_version,
            "min_decryption_version": self.min_decryption_version,
            "min_encryption_version": self.min_encryption_version,
            "deletion_allowed": self.deletion_allowed,
            "exportable": self.exportable,
            "supports_encryption": spec.supports("encrypt"),
            "supports_decryption": spec.supports("decrypt"),
            "supports_signing": spec.supports("sign"),
            "supports_hmac": spec.supports("hmac"),
            "deterministic": spec.deterministic,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "keys": keys,
            "version_states": {str(v): s.value for v, s in self.version_states().items()},
        }


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
