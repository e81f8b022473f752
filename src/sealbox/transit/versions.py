"""A transit key's versions: the version rules, one version's material ready to use, and
which version an operation may use.

A key has numbered versions (1, 2, …). Encrypting, signing and HMACs use the newest
version (or a chosen one, never below the floor for new data); decrypting and verifying
pick the version named in the input, refused below ``min_decryption_version``. The rules
keep Vault Transit's names, because the wire fields are Vault's:

- ``min_decryption_version`` (1 to the latest): older versions are refused;
- ``min_encryption_version`` (0, meaning the latest, or from ``min_decryption_version``
  to the latest): the oldest version new data may name.

In the shared vocabulary of :class:`~sealbox.keysets.lifecycle.KeyState`
(:meth:`VersionedKey.version_state`), a version new data may use is *active* (the latest
always is), one that only opens and verifies is *decrypt-only*, one below
``min_decryption_version`` is *disabled*, and a version whose material is gone is
*destroyed*.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sealbox.keysets.lifecycle import KeyState
from sealbox.transit.errors import InvalidKeyVersionError, KeyVersionTooOldError
from sealbox.transit.registry import Family, TransitKeyType, key_type

__all__ = ["HMAC_KEY_LABEL", "KeyVersion", "VersionedKey", "check_version_rules", "key_versions"]

HMAC_KEY_LABEL = b"sealbox-transit-hmac-key/1"
"""What a version's HMAC key is derived with: HMAC-SHA-256(material, label) (RFC 2104 as a PRF)."""


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


@dataclass(frozen=True, slots=True, repr=False)
class KeyVersion:
    """One version of a key: its creation time, the primitive keyed with its material, and
    its HMAC key (:meth:`~sealbox.transit.keys.TransitKey.version_hmac`)."""

    version: int
    created_at: datetime
    primitive: Any
    hmac_key: Any = None

    def __repr__(self) -> str:
        return f"KeyVersion(version={self.version})"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("KeyVersion holds key material and cannot be pickled")


def key_versions(
    entry: TransitKeyType, versions: Mapping[int, tuple[datetime, bytes]]
) -> dict[int, KeyVersion]:
    """Each version's :class:`KeyVersion` from its creation time and material.

    Raises:
        KeyFormatError: (code ``bad_key_format``) a version's material is not a key of
            ``entry``'s type.
    """
    out = {}
    for v, (created, material) in versions.items():
        primitive = entry.primitive(material)
        out[v] = KeyVersion(v, created, primitive, _hmac_key(entry.family, material, primitive))
    return out


def _hmac_key(family: Family, material: bytes, primitive: Any) -> Any:
    """A version's HMAC key: an hmac key's own; for any other type, one derived from its
    material (Vault Transit gives every key version an HMAC key)."""
    if family is Family.HMAC:
        return primitive
    from sealbox.hazmat.aead import HMACSHA256

    return HMACSHA256(HMACSHA256(material).sign(HMAC_KEY_LABEL))


class VersionedKey:
    """The version rules of a key snapshot: which version new data uses, which version
    opens old data, and each version's state.

    A base of :class:`~sealbox.transit.keys.TransitKey`, which holds the fields named
    below; it adds no state of its own.
    """

    __slots__ = ()

    if TYPE_CHECKING:
        name: str
        type: str
        latest_version: int
        min_decryption_version: int
        min_encryption_version: int
        versions: Mapping[int, KeyVersion]

    @property
    def spec(self) -> TransitKeyType:
        """The registry's entry for this key's type."""
        return key_type(self.type)

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
