"""Keyring: keys with ids and states, a primary key, rotation, and encrypted storage.

A :class:`Keyring` seals small values (database fields, cookies, API tokens)
under its primary key and opens tokens made by any of its enabled keys, found by
the key id in the token. :meth:`Keyring.rotate` adds a key and makes it primary;
older keys keep opening what they sealed until they are disabled.
:meth:`Keyring.reseal` moves a token to the primary key.

Key states:

``enabled``
    opens tokens; the primary key (always enabled) also seals them.
``disabled``
    kept, but opens nothing; :meth:`Keyring.enable` brings it back.
``destroyed``
    its material is erased; tokens it made can never be opened again.

A keyring is only ever stored encrypted. :meth:`Keyring.save` writes it sealed
with a key derived from a passphrase by Argon2id (the format is in
``docs/formats.md``), or as an age file encrypted to recipients
(:meth:`Keyring.encrypt_to`), opened with identities; the file is replaced
atomically and has mode 0600.

Saving is safe against other writers of the same file: it holds the file's lock
(:mod:`sealbox._util.locks`) from re-reading the file to renaming the new one in. If the
file changed since this keyring read it (another process rotated it), the two are
merged (:mod:`sealbox._util.merge`): every key of both is kept, so nothing sealed under
either side's new key is lost. A file that cannot be opened to merge (another
passphrase; recipients and no identity) is not overwritten:
:class:`~sealbox.exceptions.ConcurrentChangeError`.

Example::

    >>> ring = Keyring.generate()
    >>> token = ring.seal(b"4111 1111 1111 1111", associated_data=b"user:42")
    >>> ring.open(token, associated_data=b"user:42")
    b'4111 1111 1111 1111'

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import enum
import json
import os
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from cryptography.exceptions import InvalidTag

from sealbox._util.files import read_limited
from sealbox._util.merge import (
    Origin,
    merge_primary,
    merge_sources,
    merge_states,
    origin_of,
    save_merged,
)
from sealbox.exceptions import (
    ConcurrentChangeError,
    ConfigError,
    DecryptionError,
    FormatError,
    KeyNotFoundError,
    KeyStateError,
    UnsupportedAlgorithmError,
)
from sealbox.hazmat import kdf
from sealbox.hazmat.aead import ALGORITHMS, DEFAULT_ALGORITHM
from sealbox.keysets.fields import (
    HEADER_SIZE,
    MATERIAL_SIZE,
    VERSION_DETERMINISTIC,
    FieldKey,
    decode_token,
    encode_token,
    token_key_id,
)
from sealbox.keysets.sealed import PassphraseSealer, b64d, b64e, format_time, parse_time
from sealbox.secret import Secret

if TYPE_CHECKING:
    from sealbox.age import Identity, Recipient

__all__ = ["KeyInfo", "KeyState", "Keyring"]

FORMAT: Final = "sealbox-keyring/1"
SEALED_FORMAT: Final = "sealbox-keyring-sealed/1"
MAX_FILE_SIZE: Final = 16 * 1024 * 1024
_NONCE: Final = 12
_BODY: Final = HEADER_SIZE + _NONCE
_urandom = os.urandom


class KeyState(enum.StrEnum):
    """The state of a key in a keyring."""

    ENABLED = "enabled"
    DISABLED = "disabled"
    DESTROYED = "destroyed"


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What a keyring tells about one of its keys. Never the material.

    Attributes:
        id: the 32-bit key id that tokens carry.
        algorithm: the randomized cipher the key seals with.
        state: enabled, disabled or destroyed.
        primary: whether the key seals new tokens.
        created: when the key was made (UTC).
    """

    id: int
    algorithm: str
    state: KeyState
    primary: bool
    created: datetime

    @property
    def hex_id(self) -> str:
        """The key id as eight hex digits, as the CLI and the file show it."""
        return f"{self.id:08x}"

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"id", "algorithm", "state", "primary", "created"}`` for JSON output."""
        return {
            "id": self.hex_id,
            "algorithm": self.algorithm,
            "state": self.state.value,
            "primary": self.primary,
            "created": format_time(self.created),
        }


@dataclass(slots=True, repr=False)
class _Entry:
    id: int
    algorithm: str
    state: KeyState
    created: datetime
    material: bytes | None
    field_key: FieldKey | None = None

    def working_key(self) -> FieldKey:
        if self.field_key is None:
            assert self.material is not None
            self.field_key = FieldKey(self.id, self.algorithm, self.material)
        return self.field_key


class Keyring:
    """A set of keys with one primary key. Build one with :meth:`generate` or :meth:`load`.

    Sealing and opening are safe to call from many threads; changes (rotate,
    disable, …) are serialised by a lock.
    """

    __slots__ = (
        "_base",
        "_decrypters",
        "_deterministic",
        "_entries",
        "_lock",
        "_origin",
        "_primary",
        "_primary_id",
        "_recipients",
        "_sealer",
    )

    def __init__(self, entries: Iterable[_Entry], primary_id: int) -> None:
        self._lock = threading.RLock()
        self._entries: dict[int, _Entry] = {e.id: e for e in entries}
        if primary_id not in self._entries:
            raise FormatError(f"the primary key {primary_id:08x} is not in the keyring")
        if self._entries[primary_id].state is not KeyState.ENABLED:
            raise FormatError(f"the primary key {primary_id:08x} is not enabled")
        self._primary_id = primary_id
        self._primary: FieldKey
        self._sealer: tuple[bytes, Callable[[bytes, bytes, bytes], bytes]]
        self._decrypters: dict[bytes, Callable[[bytes, bytes, bytes], bytes]]
        self._deterministic: dict[bytes, FieldKey]
        self._recipients: tuple[str, ...] = ()
        # The file this keyring was read from or last saved to, as (real path, SHA-256 of
        # its bytes), and the keys as they were then: the base of a merge on save.
        self._origin: Origin | None = None
        self._base: tuple[int, dict[int, KeyState]] = (primary_id, {})
        self._refresh()

    # -- construction ---------------------------------------------------------------

    @classmethod
    def generate(
        cls, algorithm: str = DEFAULT_ALGORITHM, *, now: datetime | None = None
    ) -> Keyring:
        """Return a new keyring holding one fresh key, which is primary.

        Args:
            algorithm: ``aes-256-gcm`` (default), ``chacha20-poly1305`` or ``aes-256-gcm-siv``.
            now: creation time to record (the current time by default).
        """
        entry = _new_entry(algorithm, (), now)
        return cls([entry], entry.id)

    # -- listing --------------------------------------------------------------------

    @property
    def primary_id(self) -> int:
        """The id of the key that seals new tokens."""
        return self._primary_id

    def keys(self) -> list[KeyInfo]:
        """Describe every key, in the order they were added (oldest first)."""
        with self._lock:
            return [
                KeyInfo(e.id, e.algorithm, e.state, e.id == self._primary_id, e.created)
                for e in self._entries.values()
            ]

    @property
    def recipients(self) -> tuple[str, ...]:
        """The age recipients this keyring was last saved to (empty for a passphrase).

        Commands that change an age-encrypted keyring save it back to them.
        """
        return self._recipients

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._entries

    def __iter__(self) -> Iterator[KeyInfo]:
        return iter(self.keys())

    def __repr__(self) -> str:
        states = [e.state.value for e in self._entries.values()]
        return (
            f"Keyring(primary={self._primary_id:08x}, keys={len(states)}, "
            f"enabled={states.count('enabled')})"
        )

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("Keyring holds key material and cannot be pickled; use save()")

    # -- sealing --------------------------------------------------------------------

    def seal(self, data: bytes, associated_data: bytes = b"") -> bytes:
        """Encrypt ``data`` under the primary key.

        Args:
            data: the value.
            associated_data: context the token is bound to (a table and row id,
                a user id): opening needs the same bytes. It is not encrypted
                and not stored in the token.

        Returns:
            a version-1 token: ``0x01 | key id | nonce | ciphertext | tag``.
        """
        # One attribute read: a concurrent rotate() swaps header and cipher together.
        header, encrypt = self._sealer
        nonce = _urandom(_NONCE)
        return header + nonce + encrypt(nonce, data, header + associated_data)

    def open(self, token: bytes, associated_data: bytes = b"") -> bytes:
        """Decrypt a token made by :meth:`seal` or :meth:`seal_deterministic`.

        Raises:
            DecryptionError: the token was altered or truncated, the associated
                data differs, or its key is unknown, disabled or destroyed. The
                message is the same in every case.
        """
        if type(token) is not bytes:
            token = bytes(token)
        header = token[:HEADER_SIZE]
        decrypt = self._decrypters.get(header)
        if decrypt is not None:
            try:
                return decrypt(token[HEADER_SIZE:_BODY], token[_BODY:], header + associated_data)
            except (InvalidTag, ValueError):
                # ValueError: a truncated token left a nonce shorter than pyca accepts.
                raise DecryptionError from None
        key = self._deterministic.get(header)
        if key is None:
            raise DecryptionError
        return key.open_deterministic(token, associated_data)

    def reseal(self, token: bytes, associated_data: bytes = b"") -> bytes:
        """Open ``token`` and seal its plaintext again under the primary key.

        A deterministic token stays deterministic. A token already under the
        primary key is returned re-encrypted all the same (with a new nonce).

        Raises:
            DecryptionError: as :meth:`open`.
        """
        plaintext = self.open(token, associated_data)
        if token[0] == VERSION_DETERMINISTIC:
            return self.seal_deterministic(plaintext, associated_data)
        return self.seal(plaintext, associated_data)

    def seal_deterministic(self, data: bytes, associated_data: bytes = b"") -> bytes:
        """Encrypt ``data`` so that equal inputs give equal tokens (AES-256-SIV).

        .. danger::

           Anyone who sees two such tokens learns whether the values are equal.
           Prefer :meth:`seal` plus a :meth:`blind_index` column for lookups.

        Returns:
            a version-2 token: ``0x02 | key id | synthetic IV | ciphertext``.
        """
        return self._primary.seal_deterministic(data, associated_data)

    def deterministic_tokens(self, data: bytes, associated_data: bytes = b"") -> dict[int, bytes]:
        """Return the deterministic token of ``data`` under every enabled key.

        Use it to look a value up while rows sealed before a rotation still exist.
        """
        with self._lock:
            keys = [e.working_key() for e in self._enabled()]
        return {k.key_id: k.seal_deterministic(data, associated_data) for k in keys}

    def blind_index(self, data: bytes, context: bytes = b"") -> bytes:
        """Return a keyed 32-byte digest of ``data`` under the primary key.

        Store it next to a sealed value to find rows by equality without
        decrypting. ``context`` separates columns: the same value in two
        columns gives unrelated digests.
        """
        return self._primary.blind_index(data, context)

    def blind_indexes(self, data: bytes, context: bytes = b"") -> dict[int, bytes]:
        """Return the blind index of ``data`` under every enabled key, by key id.

        Search for any of these values and lookups keep working across rotation.
        """
        with self._lock:
            keys = [e.working_key() for e in self._enabled()]
        return {k.key_id: k.blind_index(data, context) for k in keys}

    def seal_text(self, data: bytes | str, associated_data: bytes = b"") -> str:
        """:meth:`seal` returning the text form (URL-safe base64, no padding).

        A ``str`` value is encoded as UTF-8.
        """
        if isinstance(data, str):
            data = data.encode()
        return encode_token(self.seal(data, associated_data))

    def open_text(self, token: str | bytes, associated_data: bytes = b"") -> bytes:
        """:meth:`open` for the text form of a token.

        Raises:
            DecryptionError: as :meth:`open`, and for text that is not a token.
        """
        return self.open(decode_token(token), associated_data)

    # -- key management -------------------------------------------------------------

    def rotate(self, algorithm: str | None = None, *, now: datetime | None = None) -> KeyInfo:
        """Add a fresh key and make it primary. Older keys keep opening tokens.

        Args:
            algorithm: the new key's cipher; the current primary's by default.

        Returns:
            the new key.
        """
        with self._lock:
            algorithm = algorithm or self._entries[self._primary_id].algorithm
            entry = _new_entry(algorithm, self._entries, now)
            self._entries[entry.id] = entry
            self._primary_id = entry.id
            self._refresh()
            return self._info(entry)

    def set_primary(self, key_id: int) -> None:
        """Make an enabled key the primary one (to roll back a rotation).

        Raises:
            KeyNotFoundError: no such key.
            KeyStateError: the key is not enabled.
        """
        with self._lock:
            entry = self._get(key_id)
            if entry.state is not KeyState.ENABLED:
                raise KeyStateError(
                    f"key {key_id:08x} is {entry.state.value}; only an enabled key can be primary"
                )
            self._primary_id = key_id
            self._refresh()

    def disable(self, key_id: int) -> None:
        """Stop a key from opening tokens. Disabling a disabled key does nothing.

        Raises:
            KeyNotFoundError: no such key.
            KeyStateError: the key is the primary key, or destroyed.
        """
        with self._lock:
            entry = self._get(key_id)
            if key_id == self._primary_id:
                raise KeyStateError(
                    f"key {key_id:08x} is the primary key and cannot be disabled",
                    hint="rotate the keyring first so that another key becomes primary",
                )
            if entry.state is KeyState.DESTROYED:
                raise KeyStateError(f"key {key_id:08x} is destroyed")
            entry.state = KeyState.DISABLED
            self._refresh()

    def enable(self, key_id: int) -> None:
        """Let a disabled key open tokens again. Enabling an enabled key does nothing.

        Raises:
            KeyNotFoundError: no such key.
            KeyStateError: the key is destroyed.
        """
        with self._lock:
            entry = self._get(key_id)
            if entry.state is KeyState.DESTROYED:
                raise KeyStateError(f"key {key_id:08x} is destroyed and cannot be enabled again")
            entry.state = KeyState.ENABLED
            self._refresh()

    def destroy(self, key_id: int) -> None:
        """Erase a disabled key's material for good. Tokens it made become unreadable.

        Raises:
            KeyNotFoundError: no such key.
            KeyStateError: the key is not disabled (disable it first, and check that
                nothing still needs it).
        """
        with self._lock:
            entry = self._get(key_id)
            if entry.state is KeyState.DESTROYED:
                return
            if entry.state is not KeyState.DISABLED:
                raise KeyStateError(
                    f"key {key_id:08x} must be disabled before it is destroyed",
                    hint="disable it, check that nothing still needs it, then destroy it",
                )
            entry.state = KeyState.DESTROYED
            entry.material = None
            entry.field_key = None
            self._refresh()

    def key_id_of(self, token: bytes) -> int:
        """Return the id of the key a token names (without decrypting it).

        Raises:
            FormatError: not a sealbox token.
        """
        return token_key_id(token)

    # -- storage --------------------------------------------------------------------

    def serialize_unencrypted(self) -> bytes:
        """Return the keyring as JSON **with its key material in clear**.

        .. danger::

           The result is every key in the ring. Never store or send it as is:
           :meth:`save` and :meth:`encrypt` exist for that.
        """
        with self._lock:
            doc = {
                "format": FORMAT,
                "primary": f"{self._primary_id:08x}",
                "keys": [
                    {
                        "id": f"{e.id:08x}",
                        "algorithm": e.algorithm,
                        "state": e.state.value,
                        "created": format_time(e.created),
                        "material": None if e.material is None else b64e(e.material),
                    }
                    for e in self._entries.values()
                ],
            }
            if self._recipients:
                doc["recipients"] = list(self._recipients)
        return json.dumps(doc, indent=2).encode() + b"\n"

    @classmethod
    def from_unencrypted(cls, data: bytes) -> Keyring:
        """Load a keyring from :meth:`serialize_unencrypted` output.

        Raises:
            FormatError: the document is not a valid keyring (the message says what
                is wrong, never with key material).
        """
        try:
            doc = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise FormatError("the keyring is not valid JSON") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise FormatError(f"not a keyring: 'format' must be {FORMAT!r}")
        keys = doc.get("keys")
        if not isinstance(keys, list) or not keys:
            raise FormatError("the keyring has no keys")
        entries = [_parse_entry(k, i) for i, k in enumerate(keys)]
        if len({e.id for e in entries}) != len(entries):
            raise FormatError("the keyring holds two keys with the same id")
        ring = cls(entries, _parse_id(doc.get("primary"), "primary"))
        recipients = doc.get("recipients", [])
        if not isinstance(recipients, list) or not all(isinstance(r, str) for r in recipients):
            raise FormatError("'recipients' must be a list of strings")
        ring._recipients = tuple(recipients)
        return ring

    def encrypt(
        self,
        passphrase: str | bytes | Secret[Any],
        *,
        kdf_params: kdf.Argon2idParams = kdf.ARGON2ID_DEFAULT,
    ) -> bytes:
        """Return the keyring sealed under a passphrase (Argon2id + AES-256-GCM)."""
        return _sealer(passphrase, kdf_params=kdf_params).seal(self.serialize_unencrypted())

    @classmethod
    def decrypt(
        cls,
        data: bytes,
        passphrase: str | bytes | Secret[Any],
        *,
        kdf_ceiling: kdf.Argon2idParams = kdf.ARGON2ID_CEILING,
    ) -> Keyring:
        """Open a keyring sealed by :meth:`encrypt`.

        Raises:
            FormatError: the data is not a sealed keyring, or asks for Argon2id
                costs above ``kdf_ceiling``.
            DecryptionError: the passphrase is wrong or the file was altered.
        """
        return cls.from_unencrypted(_sealer(passphrase, kdf_ceiling=kdf_ceiling).open(data))

    def encrypt_to(self, recipients: Sequence[Recipient]) -> bytes:
        """Return the keyring as an age file encrypted to ``recipients``.

        The public recipients are recorded inside the (encrypted) keyring, so that
        a changed keyring can be saved back to them (:attr:`recipients`).
        """
        from sealbox import age

        with self._lock:
            self._recipients = tuple(t for r in recipients if (t := _recipient_text(r)))
            plain = self.serialize_unencrypted()
        return age.encrypt(plain, recipients)

    @classmethod
    def decrypt_with(cls, data: bytes, identities: Sequence[Identity]) -> Keyring:
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
            ValueError: both or neither of ``passphrase`` and ``recipients``.
            StorageError: the file exists and ``overwrite`` is false, or it cannot
                be written. The old file is left as it was.
            ConcurrentChangeError: the file changed and cannot be opened to merge
                (nothing was written).
            LockTimeoutError: another writer held the file too long.
        """
        if (passphrase is None) == (recipients is None):
            raise ValueError("give either a passphrase or recipients")

        def render() -> bytes:
            if recipients is not None:
                return self.encrypt_to(recipients)
            assert passphrase is not None
            return self.encrypt(passphrase, kdf_params=kdf_params)

        origin = save_merged(
            path,
            origin=self._origin,
            render=render,
            merge_from=lambda data, target: self._merge_from(data, target, passphrase, identities),
            limit=MAX_FILE_SIZE,
            what="keyring",
            overwrite=overwrite,
            merge=merge,
        )
        self._remember(origin)

    def _merge_from(
        self,
        current: bytes,
        target: str,
        passphrase: str | bytes | Secret[Any] | None,
        identities: Sequence[Identity] | None,
    ) -> None:
        read_here = self._origin is not None and self._origin[0] == target
        try:
            theirs = Keyring._open(current, target, passphrase, identities)
        except (ConfigError, DecryptionError):
            how = "was changed by another writer" if read_here else "holds another keyring"
            raise ConcurrentChangeError(
                f"keyring {target} {how} and cannot be opened to merge its keys",
                path=target,
                hint="load the keyring again and repeat the change, or give the "
                "identity or passphrase that opens the file",
            ) from None
        base_primary, base_states = self._base if read_here else (None, {})
        with self._lock:
            order = list(KeyState)
            states = merge_states(
                base_states,
                {e.id: e.state for e in self._entries.values()},
                {e.id: e.state for e in theirs._entries.values()},
                order,
            )
            sources = merge_sources(
                self._entries,
                theirs._entries,
                lambda e: e.material,
                refuse=lambda key_id: ConcurrentChangeError(
                    f"keyring {target}: another writer added a different key with the same "
                    f"id {key_id:08x}",
                    path=target,
                    names=[f"{key_id:08x}"],
                    hint="load the keyring again and repeat the change",
                ),
            )
            entries: dict[int, _Entry] = {}
            for key_id, source in sources.items():
                entry = _Entry(
                    key_id, source.algorithm, states[key_id], source.created, source.material
                )
                if entry.state is KeyState.DESTROYED:
                    entry.material = None
                entries[key_id] = entry

            def newer(ours: int, theirs: int) -> int:
                # Creation times have one-second resolution: within a second, the
                # rotation saved last (this one) wins, as running them in turn would.
                return theirs if entries[theirs].created > entries[ours].created else ours

            primary = merge_primary(base_primary, self._primary_id, theirs._primary_id, newer)
            if entries[primary].state is not KeyState.ENABLED:
                raise ConcurrentChangeError(
                    f"keyring {target}: the primary key {primary:08x} was disabled by "
                    "another writer",
                    path=target,
                    names=[f"{primary:08x}"],
                    hint="load the keyring again and repeat the change",
                )
            self._entries = entries
            self._primary_id = primary
            if not self._recipients:
                self._recipients = theirs._recipients
            self._refresh()

    def _remember(self, origin: Origin) -> None:
        with self._lock:
            self._origin = origin
            self._base = (self._primary_id, {e.id: e.state for e in self._entries.values()})

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        passphrase: str | bytes | Secret[Any] | None = None,
        *,
        identities: Sequence[Identity] | None = None,
    ) -> Keyring:
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
    ) -> Keyring:
        if is_age_file(data):
            if identities is None and passphrase is not None:
                from sealbox.age import ScryptIdentity

                identities = [ScryptIdentity(passphrase)]
            if not identities:
                raise ConfigError(
                    f"keyring {path} is encrypted to age recipients",
                    hint="give an identity file (-i)",
                )
            return cls.decrypt_with(data, identities)
        if passphrase is None:
            raise ConfigError(f"keyring {path} is encrypted with a passphrase")
        return cls.decrypt(data, passphrase)

    # -- internals ------------------------------------------------------------------

    def _get(self, key_id: int) -> _Entry:
        try:
            return self._entries[key_id]
        except KeyError:
            raise KeyNotFoundError(f"no key {key_id:08x} in this keyring") from None

    def _enabled(self) -> list[_Entry]:
        return [e for e in self._entries.values() if e.state is KeyState.ENABLED]

    def _info(self, e: _Entry) -> KeyInfo:
        return KeyInfo(e.id, e.algorithm, e.state, e.id == self._primary_id, e.created)

    def _refresh(self) -> None:
        # Build the lookup tables, then swap them in: readers never see a half state.
        decrypters: dict[bytes, Callable[[bytes, bytes, bytes], bytes]] = {}
        deterministic: dict[bytes, FieldKey] = {}
        for entry in self._enabled():
            key = entry.working_key()
            decrypters[key.header] = key.decrypt
            deterministic[bytes([VERSION_DETERMINISTIC]) + entry.id.to_bytes(4, "big")] = key
        primary = self._entries[self._primary_id].working_key()
        self._decrypters = decrypters
        self._deterministic = deterministic
        self._primary = primary
        self._sealer = (primary.header, primary.encrypt)


def _new_entry(algorithm: str, taken: Iterable[int], now: datetime | None) -> _Entry:
    if algorithm not in ALGORITHMS:
        names = ", ".join(sorted(ALGORITHMS))
        raise UnsupportedAlgorithmError(f"unknown algorithm {algorithm!r} (supported: {names})")
    used = set(taken)
    key_id = 0
    while key_id == 0 or key_id in used:
        key_id = secrets.randbits(32)
    created = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    return _Entry(key_id, algorithm, KeyState.ENABLED, created, os.urandom(MATERIAL_SIZE))


def _parse_entry(obj: object, index: int) -> _Entry:
    where = f"keys[{index}]"
    if not isinstance(obj, dict):
        raise FormatError(f"{where} must be an object")
    key_id = _parse_id(obj.get("id"), f"{where}.id")
    algorithm = obj.get("algorithm")
    if algorithm not in ALGORITHMS:
        raise UnsupportedAlgorithmError(f"{where}: unknown algorithm {algorithm!r}")
    try:
        state = KeyState(str(obj.get("state")))
    except ValueError:
        raise FormatError(f"{where}.state must be enabled, disabled or destroyed") from None
    created = parse_time(obj.get("created"), f"{where}.created")
    raw = obj.get("material")
    if state is KeyState.DESTROYED:
        if raw is not None:
            raise FormatError(f"{where} is destroyed but still holds material")
        material = None
    else:
        material = b64d(raw, f"{where}.material")
        if len(material) != MATERIAL_SIZE:
            raise FormatError(f"{where}.material must be {MATERIAL_SIZE} bytes")
    return _Entry(key_id, str(algorithm), state, created, material)


def _parse_id(value: object, where: str) -> int:
    if not isinstance(value, str) or len(value) != 8:
        raise FormatError(f"{where} must be 8 hex digits")
    try:
        return int(value, 16)
    except ValueError:
        raise FormatError(f"{where} must be 8 hex digits") from None


def is_age_file(data: bytes) -> bool:
    """Whether ``data`` is an age file (binary or armored) rather than sealed JSON."""
    start = data[:64].lstrip()
    return start.startswith((b"age-encryption.org/", b"-----BEGIN AGE ENCRYPTED FILE-----"))


def _recipient_text(recipient: Recipient) -> str:
    text = str(recipient)
    # Only public keys are recorded; a passphrase recipient has no public form.
    return text if text.startswith(("age1", "ssh-")) else ""


def _sealer(passphrase: str | bytes | Secret[Any], **kw: kdf.Argon2idParams) -> PassphraseSealer:
    return PassphraseSealer(passphrase, format=SEALED_FORMAT, what="keyring", **kw)
