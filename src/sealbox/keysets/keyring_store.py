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
    SEALED_FORMAT,
    KeyEntry,
    is_age_file,
    passphrase_sealer,
    recipient_text,
)
from sealbox.keysets.keyring_merge import merge_keyrings
from sealbox.keysets.lifecycle import KeyState
from sealbox.keysets.merged_copy import MergedCopy
from sealbox.keysets.sealed import sealed_kdf_params
from sealbox.secret import Secret

if TYPE_CHECKING:
    from sealbox.age import Identity, Recipient

__all__ = ["KeyringStorage"]


class KeyringStorage(MergedCopy[int]):
    """Encrypting, saving and loading, for :class:`~sealbox.keysets.keyring.Keyring`."""

    __slots__ = ("_entries", "_primary_id", "_recipients", "_sealed_kdf")

    _entries: dict[int, KeyEntry]
    _primary_id: int
    _recipients: tuple[str, ...]
    # The Argon2id costs of the passphrase-sealed file this keyring was read from or last
    # saved to (None: new, or an age file): what a save without kdf_params keeps.
    _sealed_kdf: kdf.Argon2idParams | None

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
        kdf_params: kdf.Argon2idParams | None = None,
        overwrite: bool = True,
        merge: bool = True,
    ) -> None:
        """Encrypt the keyring and write it to ``path`` atomically, mode 0600.

        Give either ``passphrase`` (Argon2id + AES-256-GCM, the sealed JSON form)
        or ``recipients`` (an age file).

        ``kdf_params`` are the Argon2id costs of the passphrase form. Without them, a
        keyring read from (or saved to) a passphrase-sealed file keeps that file's
        costs, or those of the file merged in under the lock when another writer
        saved it meanwhile, unless they are at most the default in both passes and
        memory: then it gets :data:`~sealbox.hazmat.kdf.ARGON2ID_DEFAULT`
        (:func:`~sealbox.hazmat.kdf.resealing_params`). A save never weakens the
        file; a new keyring gets the default.

        Holds the file's lock from re-reading it to the rename. If the file changed
        since this keyring was read from it (or this keyring was not read from it),
        the file's keys are merged in first (see the module docstring), opened with
        ``passphrase`` or ``identities``; this keyring then holds the merged keys.
        ``merge=False`` replaces the file's keys instead (they are lost).

        .. versionchanged:: 0.1.0
           Locked, and merges a file changed by another writer; ``identities``, ``merge``.
           ``kdf_params`` defaults to ``None``: the file's own costs, never below the
           default (it was always the default, which weakened a stronger file).

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

        # The costs of the file whose keys this write carries: the one this keyring was
        # read from, or the one merged in under the lock (the newest protection of keys
        # that are being written again).
        found = self._sealed_kdf
        written: kdf.Argon2idParams | None = None

        def merge_from(data: bytes, target: str) -> None:
            nonlocal found
            self._merge_from(lambda: type(self)._open(data, target, passphrase, identities), target)
            # An age file merged in has no Argon2id costs: those read before stand.
            found = sealed_kdf_params(data, SEALED_FORMAT) or found

        def render() -> bytes:
            nonlocal written
            # What the next save keeps: the costs now on disk (None for an age file).
            if recipients is not None:
                written = None
                return self.encrypt_to(recipients)
            assert passphrase is not None
            written = kdf_params if kdf_params is not None else kdf.resealing_params(found)
            return self.encrypt(passphrase, kdf_params=written)

        origin = save_merged(
            path,
            origin=self._origin,
            render=render,
            merge_from=merge_from,
            limit=MAX_FILE_SIZE,
            what="keyring",
            overwrite=overwrite,
            merge=merge,
            too_large_hint="destroy the keys no longer needed, once what they sealed is "
            "sealed again: a destroyed key keeps only its id",
        )
        self._remember(origin)
        self._sealed_kdf = written

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
        ring._sealed_kdf = sealed_kdf_params(data, SEALED_FORMAT)
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
