"""Storing a signing keyset: sealed under a passphrase or a sealer, saved with merging, loaded.

:class:`SigningKeySetStorage` is the storage half of
:class:`~sealbox.jwt.keyset.SigningKeySet` (which inherits it): the sealed keyset
document (:mod:`~sealbox.jwt.keyset_file`), the locked save that merges a file another
writer changed (:mod:`~sealbox.jwt.keyset_merge`), and loading.
"""

from __future__ import annotations

import os
from typing import Any, Self

from sealbox._util.files import read_limited
from sealbox._util.merge import origin_of, save_merged
from sealbox.exceptions import ConcurrentChangeError
from sealbox.hazmat import kdf
from sealbox.jwt.keyset_file import MAX_FILE_SIZE, SEALED_FORMAT, SigningEntry
from sealbox.jwt.keyset_merge import merge_keysets
from sealbox.keysets.lifecycle import KeyState
from sealbox.keysets.merged_copy import MergedCopy
from sealbox.keysets.sealed import PassphraseSealer, Sealer, sealed_kdf_params
from sealbox.secret import Secret

__all__ = ["SigningKeySetStorage"]


class SigningKeySetStorage(MergedCopy[str]):
    """Encrypting, saving and loading, for :class:`~sealbox.jwt.keyset.SigningKeySet`."""

    # The keyset's other slots are its own.
    __slots__ = ("_entries", "_primary", "_sealed_kdf")

    _entries: dict[str, SigningEntry]
    _primary: str
    # The Argon2id costs of the passphrase-sealed file this keyset was read from or last
    # saved to (None: new, or another sealer's form): what a save without kdf_params keeps.
    _sealed_kdf: kdf.Argon2idParams | None

    def encrypt(
        self,
        passphrase: str | bytes | Secret[Any],
        *,
        kdf_params: kdf.Argon2idParams = kdf.ARGON2ID_DEFAULT,
    ) -> bytes:
        """Return the keyset sealed under a passphrase (Argon2id + AES-256-GCM)."""
        return _passphrase_sealer(passphrase, kdf_params).seal(self.serialize_unencrypted())

    @classmethod
    def decrypt(cls, data: bytes, passphrase: str | bytes | Secret[Any]) -> Self:
        """Open a keyset sealed by :meth:`encrypt`.

        Raises:
            FormatError: not a sealed keyset, or Argon2id costs above the ceiling.
            DecryptionError: wrong passphrase, or the file was altered.
        """
        return cls.from_unencrypted(_passphrase_sealer(passphrase).open(data))

    def save(
        self,
        path: str | os.PathLike[str],
        passphrase: str | bytes | Secret[Any] | None = None,
        *,
        sealer: Sealer | None = None,
        kdf_params: kdf.Argon2idParams | None = None,
        overwrite: bool = True,
        merge: bool = True,
    ) -> None:
        """Seal the keyset and write it to ``path`` atomically, mode 0600.

        Give a ``passphrase``, or a ``sealer`` for another protection (such as
        age recipients).

        ``kdf_params`` are the Argon2id costs of the passphrase form. Without them, a
        keyset read from (or saved to) a passphrase-sealed file keeps that file's
        costs, or those of the file merged in under the lock when another writer
        saved it meanwhile, unless they are at most the default in both passes and
        memory: then it gets :data:`~sealbox.hazmat.kdf.ARGON2ID_DEFAULT`
        (:func:`~sealbox.hazmat.kdf.resealing_params`). A save never weakens the
        file; a new keyset gets the default.

        Holds the file's lock from re-reading it to the rename. If the file changed
        since this keyset was read from it, its keys are merged in first (every key
        of both sides kept; a key destroyed on either side stays destroyed; of two new
        primaries the newer wins); ``merge=False`` replaces them instead.

        .. versionchanged:: 0.1.0
           Locked, and merges a file changed by another writer; ``merge``.
           ``kdf_params`` defaults to ``None``: the file's own costs, never below the
           default (it was always the default, which weakened a stronger file).

        Raises:
            StorageError: the file exists and ``overwrite`` is false, it cannot be
                written, or the sealed keyset would be larger than
                :data:`~sealbox.jwt.keyset_file.MAX_FILE_SIZE` (more than :meth:`load`
                reads back). The old file is left as it was.
            ConcurrentChangeError: the file changed (or is not the one this keyset
                was read from) and cannot be opened with the same passphrase or
                sealer to merge (nothing was written).
            LockTimeoutError: another writer held the file too long.
        """
        # Opening does not depend on the costs: they are chosen when sealing, under the lock.
        chosen = _choose_sealer(passphrase, sealer, kdf.ARGON2ID_DEFAULT)
        # The costs of the file whose keys this write carries: the one this keyset was
        # read from, or the one merged in under the lock (the newest protection of keys
        # that are being written again).
        found = self._sealed_kdf
        written: kdf.Argon2idParams | None = None

        def merge_from(data: bytes, target: str) -> None:
            nonlocal found
            self._merge_from(lambda: type(self).from_unencrypted(chosen.open(data)), target)
            found = sealed_kdf_params(data, SEALED_FORMAT) or found

        def render() -> bytes:
            nonlocal written
            plain = self.serialize_unencrypted()
            if passphrase is None:
                data = chosen.seal(plain)
                # Another sealer's costs, if it writes this form (else None), are on disk.
                written = sealed_kdf_params(data, SEALED_FORMAT)
                return data
            written = kdf_params if kdf_params is not None else kdf.resealing_params(found)
            return _passphrase_sealer(passphrase, written).seal(plain)

        origin = save_merged(
            path,
            origin=self._origin,
            render=render,
            merge_from=merge_from,
            limit=MAX_FILE_SIZE,
            what="keyset",
            overwrite=overwrite,
            merge=merge,
            too_large_hint="destroy the keys no longer needed: a destroyed key keeps only its id",
        )
        self._remember(origin)
        self._sealed_kdf = written

    def _unmergeable(self, target: str, *, read_here: bool) -> ConcurrentChangeError:
        if not read_here:
            # Not another writer: a keyset that was never read from this file.
            return ConcurrentChangeError(
                f"keyset {target} exists and cannot be opened with this passphrase or "
                "sealer to merge this keyset into it",
                path=target,
                hint="save it with the passphrase or sealer of that file, or with "
                "merge=False to replace that file and lose its keys",
            )
        return ConcurrentChangeError(
            f"keyset {target} was changed by another writer and cannot be opened to "
            "merge the changes",
            path=target,
            hint="load the keyset again and repeat the change",
        )

    def _merge_in(
        self, theirs: Self, base: tuple[str | None, dict[str, KeyState]], target: str
    ) -> None:
        entries, primary = merge_keysets(
            self._entries,
            self._primary,
            theirs._entries,
            theirs._primary,
            base=base,
            target=target,
        )
        self._entries = entries
        self._primary = primary

    def _key_states(self) -> tuple[str, dict[str, KeyState]]:
        return self._primary, {e.kid: e.state for e in self._entries.values()}

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        passphrase: str | bytes | Secret[Any] | None = None,
        *,
        sealer: Sealer | None = None,
    ) -> Self:
        """Read and open a keyset file written by :meth:`save`.

        Raises:
            StorageError: the file is missing, unreadable or too large.
            FormatError: the file is not a sealbox keyset.
            DecryptionError: wrong passphrase, or the file was altered.
        """
        chosen = _choose_sealer(passphrase, sealer, kdf.ARGON2ID_DEFAULT)
        data = read_limited(path, MAX_FILE_SIZE, "keyset")
        keyset = cls.from_unencrypted(chosen.open(data))
        keyset._remember(origin_of(path, data))
        # Another sealer's form has no Argon2id costs of ours: None.
        keyset._sealed_kdf = sealed_kdf_params(data, SEALED_FORMAT)
        return keyset


def _passphrase_sealer(
    passphrase: str | bytes | Secret[Any], kdf_params: kdf.Argon2idParams = kdf.ARGON2ID_DEFAULT
) -> PassphraseSealer:
    return PassphraseSealer(passphrase, format=SEALED_FORMAT, what="keyset", kdf_params=kdf_params)


def _choose_sealer(
    passphrase: str | bytes | Secret[Any] | None,
    sealer: Sealer | None,
    kdf_params: kdf.Argon2idParams,
) -> Sealer:
    if (passphrase is None) == (sealer is None):
        raise TypeError("give exactly one of passphrase and sealer")
    if sealer is not None:
        return sealer
    assert passphrase is not None
    return _passphrase_sealer(passphrase, kdf_params)
