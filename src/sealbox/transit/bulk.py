"""A key's operations over many items at once: the fast paths of a batch.

:mod:`sealbox.transit.batch` runs one operation over a request's items; the methods here
are what it (and the service's batch entry) call on a key so that the work common to
every item (the type's check, the version's lookup, the nonces) is done once. Each
item gets what the single operation of :class:`~sealbox.transit.keys.TransitKey` would
give it, or the error refusing it, in its place.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sealbox.exceptions import DecryptionError, SealboxError
from sealbox.transit.errors import InvalidRequestError
from sealbox.transit.formats import encode_b64, format_versioned
from sealbox.transit.versions import VersionedKey

__all__ = ["DECRYPTION_FAILED", "BulkOperations"]

DECRYPTION_FAILED = (
    "decryption failed: the ciphertext was altered, or the key or associated data differs"
)
"""The one message of a ciphertext that does not authenticate, whatever the reason."""


class BulkOperations(VersionedKey):
    """Encrypt and open many items with one key snapshot.

    A base of :class:`~sealbox.transit.keys.TransitKey`; it adds no state of its own.
    """

    __slots__ = ()

    if TYPE_CHECKING:

        def encrypt(
            self, plaintext: bytes, associated_data: bytes = b"", version: int = 0
        ) -> tuple[str, int]: ...

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
