"""Transit keys: named, typed, with numbered versions, and the operations on them.

A transit key has a name, a type (see :mod:`sealbox.transit.registry`) and numbered
versions (1, 2, …). Encrypting, signing and HMACs use the newest version (or a chosen
one, never below the floor for new data); decrypting and verifying pick the version
named in the input, refused below ``min_decryption_version``. The version rules keep
Vault Transit's names, because the wire fields are Vault's:

- ``min_decryption_version`` (1 to the latest): older versions are refused;
- ``min_encryption_version`` (0, meaning the latest, or from ``min_decryption_version``
  to the latest): the oldest version new data may name.

In the shared vocabulary of :class:`~sealbox.keysets.lifecycle.KeyState`
(:meth:`TransitKey.version_state`), a version new data may use is *active* (the latest
always is), one that only opens and verifies is *decrypt-only*, one below
``min_decryption_version`` is *disabled*, and a version whose material is gone is
*destroyed*.

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sealbox.exceptions import DecryptionError, InvalidSignatureError, SealboxError
from sealbox.keysets.lifecycle import KeyState
from sealbox.transit.errors import (
    InvalidKeyVersionError,
    InvalidRequestError,
    KeyVersionTooOldError,
)
from sealbox.transit.formats import MAX_VERSION, encode_b64, format_versioned, parse_versioned
from sealbox.transit.registry import DATAKEY_BITS, Family, TransitKeyType, key_type

__all__ = ["KeyVersion", "TransitKey", "check_version_rules"]

HMAC_KEY_LABEL = b"sealbox-transit-hmac-key/1"
"""What a version's HMAC key is derived with: HMAC-SHA-256(material, label) (RFC 2104 as a PRF)."""

DECRYPTION_FAILED = (
    "decryption failed: the ciphertext was altered, or the key or associated data differs"
)


def check_version_rules(
    latest: int, min_decryption_version: int, min_encryption_version: int
) -> None:
    """Check a key's version configuration (Vault Transit's rules).

    ``1 <= min_decryption_version <= latest``; ``min_encryption_version`` is 0 (the
    latest) or between ``min_decryption_version`` and ``latest``.

    Raises:
        InvalidKeyVersionError: a rule is broken.
    """
    if not 1 <= min_decryption_version <= latest:
        raise InvalidKeyVersionError(
            f"min_decryption_version must be between 1 and the latest version ({latest})",
            facts={"latest_version": latest},
        )
    if min_encryption_version and not (min_decryption_version <= min_encryption_version <= latest):
        raise InvalidKeyVersionError(
            "min_encryption_version must be 0 (the latest) or between min_decryption_version "
            f"({min_decryption_version}) and the latest version ({latest})",
            facts={"latest_version": latest},
        )


def _hmac_key(family: Family, material: bytes, primitive: Any) -> Any:
    """A version's HMAC key: an hmac key's own; for any other type, one derived from its
    material (Vault Transit gives every key version an HMAC key)."""
    if family is Family.HMAC:
        return primitive
    from sealbox.hazmat.aead import HMACSHA256

    return HMACSHA256(HMACSHA256(material).sign(HMAC_KEY_LABEL))


@dataclass(frozen=True, slots=True, repr=False)
class KeyVersion:
    """One version of a key: its creation time, the primitive keyed with its material, and
    its HMAC key (:meth:`TransitKey.version_hmac`)."""

    version: int
    created_at: datetime
    primitive: Any
    hmac_key: Any = None

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
            versions=_key_versions(entry, versions),
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
            versions=_key_versions(entry, versions),
        )

    @property
    def spec(self) -> TransitKeyType:
        """The registry's entry for this key's type."""
        return key_type(self.type)

    # -- versions ---------------------------------------------------------------------

    @property
    def encryption_floor(self) -> int:
        """The oldest version new data may be made with."""
        return max(self.min_encryption_version, self.min_decryption_version)

    def version_state(self, version: int) -> KeyState:
        """The state of ``version`` in the shared vocabulary.

        ``active``: new data may use it (the latest always; older ones from the
        floor that ``min_encryption_version`` sets); ``decrypt-only``: it opens and
        verifies only; ``disabled``: below ``min_decryption_version``; ``destroyed``:
        its material is gone.

        Raises:
            InvalidKeyVersionError: the key never had that version.
        """
        if not 1 <= version <= self.latest_version:
            raise InvalidKeyVersionError(
                f"key {self.name!r} has no version {version} (the latest is {self.latest_version})",
                facts={"key": self.name, "version": version},
            )
        if version not in self.versions:
            return KeyState.DESTROYED
        if version < self.min_decryption_version:
            return KeyState.DISABLED
        if version < self.encryption_floor:
            return KeyState.DECRYPT_ONLY
        return KeyState.ACTIVE

    def version_states(self) -> dict[int, KeyState]:
        """Every version's state, oldest first."""
        return {v: self.version_state(v) for v in range(1, self.latest_version + 1)}

    def for_encryption(self, requested: int = 0) -> KeyVersion:
        """The version to encrypt, sign or HMAC with: ``requested``, or the latest when 0.

        Raises:
            InvalidKeyVersionError: the version does not exist or is below the floor.
        """
        version = requested or self.latest_version
        if version > self.latest_version or version not in self.versions:
            raise InvalidKeyVersionError(
                f"key {self.name!r} has no version {version} (the latest is {self.latest_version})",
                facts={"key": self.name, "version": version},
            )
        floor = self.encryption_floor
        if version < floor:
            raise InvalidKeyVersionError(
                f"key version {version} is below the key's minimum version for new data ({floor})",
                facts={"key": self.name, "version": version},
            )
        return self.versions[version]

    def for_decryption(self, version: int, what: str = "ciphertext") -> KeyVersion:
        """The version that made a ciphertext, signature or HMAC.

        Raises:
            KeyVersionTooOldError: below ``min_decryption_version``.
            InvalidKeyVersionError: it does not exist.
        """
        if version < self.min_decryption_version:
            raise KeyVersionTooOldError(
                f"the {what} was made with version {version} of key {self.name!r}, below its "
                f"min_decryption_version {self.min_decryption_version}: it is no longer accepted",
                facts={
                    "key": self.name,
                    "version": version,
                    "min_decryption_version": self.min_decryption_version,
                },
            )
        found = self.versions.get(version)
        if found is None:
            raise InvalidKeyVersionError(
                f"the {what} names version {version} of key {self.name!r}, which does not exist "
                f"(the latest is {self.latest_version})",
                facts={"key": self.name, "version": version},
            )
        return found

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

    def encryptor(self, version: int = 0) -> Callable[[bytes, bytes], tuple[str, int]]:
        """:meth:`encrypt` with the version chosen once, for the items of a batch.

        Each call returns what ``encrypt(plaintext, associated_data, version)`` returns
        and raises what it raises (a version that cannot encrypt fails every call); the
        key's type and version are looked up once instead of once per item.

        .. versionadded:: 0.1.0
        """
        try:
            self.spec.require("encrypt")
            kv = self.for_encryption(version)
        except SealboxError:

            def refuse(plaintext: bytes, associated_data: bytes = b"") -> tuple[str, int]:
                return self.encrypt(plaintext, associated_data, version)

            return refuse
        seal, used = kv.primitive.encrypt, kv.version
        prefix = format_versioned(used, b"")

        def encrypt(plaintext: bytes, associated_data: bytes = b"") -> tuple[str, int]:
            try:
                sealed = seal(plaintext, associated_data)
            except ValueError:
                return self.encrypt(plaintext, associated_data, version)  # its own refusal
            return prefix + encode_b64(sealed).decode("ascii"), used

        return encrypt

    def encrypt_many(
        self, items: Sequence[tuple[bytes, bytes]], version: int = 0
    ) -> tuple[list[bytes | InvalidRequestError], int]:
        """Encrypt ``(plaintext, associated_data)`` pairs with one version, for a batch.

        Each pair gets what :meth:`encrypt` would give it, as ASCII bytes: the
        ``sealbox:v<N>:`` ciphertext, or the :class:`InvalidRequestError` refusing that
        pair (an empty plaintext for ``aes256-siv``), in its place. A randomized type
        draws the nonces of all the pairs in one read of the system's generator.

        Returns:
            the results in order, and ``N``.

        Raises:
            UnsupportedOperationError: the type does not encrypt.
            InvalidKeyVersionError: see :meth:`for_encryption` (a refusal of every pair).

        .. versionadded:: 0.1.0
        """
        sealed, used = self.seal_many(items, version)
        prefix = format_versioned(used, b"").encode("ascii")
        return [
            s if isinstance(s, InvalidRequestError) else prefix + encode_b64(s) for s in sealed
        ], used

    def seal_many(
        self, items: Sequence[tuple[bytes, bytes]], version: int = 0
    ) -> tuple[list[bytes | InvalidRequestError], int]:
        """:meth:`encrypt_many` before the text form: each pair's sealed bytes (what the
        base64 of its ciphertext holds) or its refusal, and ``N``.

        For a writer that puts the ``sealbox:v<N>:`` prefix and the base64 in place
        itself (a batch's answer), sparing a copy of every ciphertext.

        Raises:
            UnsupportedOperationError, InvalidKeyVersionError: as :meth:`encrypt_many`.

        .. versionadded:: 0.1.0
        """
        self.spec.require("encrypt")
        kv = self.for_encryption(version)
        many = getattr(kv.primitive, "encrypt_many", None)
        if many is not None:
            return many(items), kv.version
        sealed: list[bytes | InvalidRequestError] = []
        for plaintext, associated_data in items:
            try:
                sealed.append(kv.primitive.encrypt(plaintext, associated_data))
            except ValueError:
                sealed.append(self._empty_refused())
        return sealed, kv.version

    def _empty_refused(self) -> InvalidRequestError:
        # AES-SIV (RFC 5297 allows it, OpenSSL does not) refuses an empty plaintext.
        return InvalidRequestError(
            f"{self.type} keys cannot encrypt an empty plaintext", facts={"type": self.type}
        )

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

    def open_many(self, items: Sequence[tuple[int, bytes]]) -> list[bytes | SealboxError]:
        """:meth:`decrypt_parsed` of each ``(version, bytes)`` pair, without associated
        data, for a batch: each pair's plaintext, or the error refusing it
        (:class:`KeyVersionTooOldError`, :class:`InvalidKeyVersionError`,
        :class:`DecryptionError`), in its place.

        Raises:
            UnsupportedOperationError: the type does not decrypt (a refusal of every pair).

        .. versionadded:: 0.1.0
        """
        self.spec.require("decrypt")
        opened: list[bytes | SealboxError] = []
        append = opened.append
        # Each version's cipher is looked up once, not once per pair.
        ciphers: dict[int, Callable[[bytes, bytes], bytes]] = {}
        for version, data in items:
            try:
                decrypt = ciphers.get(version)
                if decrypt is None:
                    decrypt = ciphers[version] = self.for_decryption(version).primitive.decrypt
                append(decrypt(data, b""))
            except DecryptionError:
                append(DecryptionError(DECRYPTION_FAILED))
            except SealboxError as exc:
                append(exc)
        return opened

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
        (:data:`HMAC_KEY_LABEL`), never the material itself.

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


def _key_versions(
    entry: TransitKeyType, versions: Mapping[int, tuple[datetime, bytes]]
) -> dict[int, KeyVersion]:
    out = {}
    for v, (created, material) in versions.items():
        primitive = entry.primitive(material)
        out[v] = KeyVersion(v, created, primitive, _hmac_key(entry.family, material, primitive))
    return out


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
