"""Storing a keyring: sealed under a passphrase or as an age file, saved with merging, loaded.

:class:`KeyringStorage` is the storage half of :class:`~sealbox.keysets.keyring.Keyring`
(which inherits it): the two encrypted forms of the keyring document
(:mod:`~sealbox.keysets.keyring_file`), the locked save that merges a file another
writer changed (:mod:`~sealbox.keysets.keyring_merge`), and loading a file of either form.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Self

from sealbox._util.files import read_limited
from sealbox._util.merge import origin_of, save_merged
from sealbox.exceptions import ConcurrentChangeError, ConfigError
from sealbox.hazmat import kdf
from sealbox.keysets.keyring_file import (
    MAX_FILE_SIZE,
    KeyEntry,
    is_age_file,
    passphrase_sealer,
    recipient_text,
)
from sealbox.keysets.keyring_merge import merge_keyrings
from sealbox.keysets.lifecycle import KeyState
from sealbox.keysets.merged_copy import MergedCopy
from sealbox.secret import Secret

if TYPE_CHECKING:
    from sealbox.age import Identity, Recipient

__all__ = ["KeyringStorage"]


class KeyringStorage(MergedCopy[int]):
    """Encrypting, saving and loading, for :class:`~sealbox.keysets.keyring.Keyring`."""

    __slots__ = ("_entries", "_primary_id", "_recipients")

    _entries: dict[int, KeyEntry]
    _primary_id: int
    _recipients: tuple[str, ...]

    def encrypt(
        self,
        passphrase: str | bytes | Secret[Any],
        *,
        kdf_params: kdf.Argon2idParams = kdf.ARGON2ID_DEFAULT,
    ) -> bytes:
        """Return the keyring sealed under a passphrase (Argon2id + AES-256-GCM)."""
        return passphrase_sealer(passphrase, kdf_params=kdf_params).seal(
            self.serialize_unencrypted()
        )

    @classmethod
    def decrypt(
        cls,
        data: bytes,
        passphrase: str | bytes | Secret[Any],
        *,
        kdf_ceiling: kdf.Argon2idParams = kdf.ARGON2ID_CEILING,
    ) -> Self:
        """Open a keyring sealed by :meth:`encrypt`.

        Raises:
            FormatError: the data is not a sealed keyring, or asks for Argon2id
                costs above ``kdf_ceiling``.
            DecryptionError: the passphrase is wrong or the file was altered.
        """
        return cls.from_unencrypted(
            passphrase_sealer(passphrase, kdf_ceiling=kdf_ceiling).open(data)
        )

    def encrypt_to(self, recipients: Sequence[Recipient]) -> bytes:
        """Return the keyring as an age file encrypted to ``recipients``.

        The public recipients are recorded inside the (encrypted) keyring, so that
        a changed keyring can be saved back to them (:attr:`recipients`).
        """
        from sealbox import age

        with self._lock:
            self._recipients = tuple(t for r in recipients if (t := recipient_text(r)))
            plain = self.serialize_unencrypted()
        return age.encrypt(plain, recipients)

    @classmethod
    def decrypt_with(cls, data: bytes, identities: Sequence[Identity]) -> Self:
        """Open a keyring saved as an age file (:meth:`encrypt_to`).

        Raises:
            FormatError: not an age file, or the plaintext is not a keyring.
            NoIdentityMatchError: none of the identities opens it.
            DecryptionError: the file was altered.
        """
        from sealbox import age

        return cls.from_unencrypted(age.decrypt(data, identities))

    def save(
        self,
        path: str | os.PathLike[str],
        passphrase: str | bytes | Secret[Any] | None = None,
        *,
        recipients: Sequence[Recipient] | None = None,
        identities: Sequence[Identity] | None = None,
        kdf_params: kdf.Argon2idParams = kdf.ARGON2ID_DEFAULT,
        overwrite: bool = True,
        merge: bool = True,
    ) -> None:
        """Encrypt the keyring and write it to ``path`` atomically, mode 0600.

        Give either ``passphrase`` (Argon2id + AES-256-GCM, the sealed JSON form)
        or ``recipients`` (an age file).

        Holds the file's lock from re-reading it to the rename. If the file changed
        since this keyring was read from it (or this keyring was not read from it),
        the file's keys are merged in first (see the module docstring), opened with
        ``passphrase`` or ``identities``; this keyring then holds the merged keys.
        ``merge=False`` replaces the file's keys instead (they are lost).

        .. versionchanged:: 0.1.0
           Locked, and merges a file changed by another writer; ``identities``, ``merge``.

        Raises:
            ConfigError: both or neither of ``passphrase`` and ``recipients`` (code
                ``keyring_protection_needed``; a ``ValueError``).
            StorageError: the file exists and ``overwrite`` is false, or it cannot
                be written. The old file is left as it was.
            ConcurrentChangeError: the file changed and cannot be opened to merge
                (nothing was written).
            LockTimeoutError: another writer held the file too long.
        """
        if (passphrase is None) == (recipients is None):
            raise ConfigError(
                "give either a passphrase or recipients",
                code="keyring_protection_needed",
            )

        def render() -> bytes:
            if recipients is not None:
                return self.encrypt_to(recipients)
            assert passphrase is not None
            return self.encrypt(passphrase, kdf_params=kdf_params)

        origin = save_merged(
            path,
            origin=self._origin,
            render=render,
            merge_from=lambda data, target: self._merge_from(
                lambda: type(self)._open(data, target, passphrase, identities), target
            ),
            limit=MAX_FILE_SIZE,
            what="keyring",
            overwrite=overwrite,
            merge=merge,
            too_large_hint="destroy the keys no longer needed, once what they sealed is "
            "sealed again: a destroyed key keeps only its id",
        )
        self._remember(origin)

    def _unmergeable(self, target: str, *, read_here: bool) -> ConcurrentChangeError:
        how = "was changed by another writer" if read_here else "holds another keyring"
        return ConcurrentChangeError(
            f"keyring {target} {how} and cannot be opened to merge its keys",
            path=target,
            hint="load the keyring again and repeat the change, or give the "
            "identity or passphrase that opens the file",
        )

    def _merge_in(
        self, theirs: Self, base: tuple[int | None, dict[int, KeyState]], target: str
    ) -> None:
        entries, primary = merge_keyrings(
            self._entries,
            self._primary_id,
            theirs._entries,
            theirs._primary_id,
            base=base,
            target=target,
        )
        self._entries = entries
        self._primary_id = primary
        if not self._recipients:
            self._recipients = theirs._recipients

    def _key_states(self) -> tuple[int, dict[int, KeyState]]:
        return self._primary_id, {e.id: e.state for e in self._entries.values()}

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        passphrase: str | bytes | Secret[Any] | None = None,
        *,
        identities: Sequence[Identity] | None = None,
    ) -> Self:
        """Read and decrypt a keyring file written by :meth:`save`.

        The form is told by the file's first bytes: an age file opens with
        ``identities`` (or with ``passphrase``, if it was encrypted to one); the
        sealed JSON form with ``passphrase``.

        Raises:
            StorageError: the file is missing, unreadable or too large.
            FormatError: the file is not a sealbox keyring.
            ConfigError: the file's form needs what was not given.
            DecryptionError: wrong passphrase or identity, or the file was altered.
        """
        data = read_limited(path, MAX_FILE_SIZE, "keyring")
        ring = cls._open(data, os.fspath(path), passphrase, identities)
        ring._remember(origin_of(path, data))
        return ring

    @classmethod
    def _open(
        cls,
        data: bytes,
        path: str,
        passphrase: str | bytes | Secret[Any] | None,
        identities: Sequence[Identity] | None,
    ) -> Self:
        if is_age_file(data):
            if identities is None and passphrase is not None:
                from sealbox.age import ScryptIdentity

                identities = [ScryptIdentity(passphrase)]
            if not identities:
                raise ConfigError(
                    f"keyring {path} is encrypted to age recipients",
                    hint="give an identity that opens it",
                    code="identity_needed",
                    facts={"path": path},
                )
            return cls.decrypt_with(data, identities)
        if passphrase is None:
            raise ConfigError(
                f"keyring {path} is encrypted with a passphrase",
                hint="give the passphrase",
                code="passphrase_needed",
                facts={"path": path},
            )
        return cls.decrypt(data, passphrase)
