"""Keyring: keys with ids and states, a primary key, rotation, and encrypted storage.

A :class:`Keyring` seals small values (database fields, cookies, API tokens)
under its primary key and opens tokens made by any of its active or decrypt-only keys, found by
the key id in the token. :meth:`Keyring.rotate` adds a key and makes it primary;
older keys keep opening what they sealed until they are disabled.
:meth:`Keyring.reseal` moves a token to the primary key. The key management (rotate, set
the primary, disable, enable, destroy) is :mod:`~sealbox.keysets.keyring_keys`'s, the
storage :mod:`~sealbox.keysets.keyring_store`'s: :class:`Keyring` inherits both.

Key states (:class:`~sealbox.keysets.lifecycle.KeyState`, shared with JWT keysets and
transit keys):

``active``
    the primary key: it seals new tokens and opens them. A keyring has exactly one.
``decrypt-only``
    opens the tokens it sealed, seals nothing: every older key after a rotation.
``disabled``
    kept, but opens nothing; :meth:`Keyring.enable` makes it decrypt-only again.
``destroyed``
    its material is erased; tokens it made can never be opened again.

Files written before these words said ``enabled`` for the primary key and the
decrypt-only ones alike; they load as the words above (:mod:`~sealbox.keysets.keyring_file`).

A keyring is only ever stored encrypted. :meth:`Keyring.save` writes it sealed
with a key derived from a passphrase by Argon2id (the format is in
``docs/formats.md``), or as an age file encrypted to recipients
(:meth:`Keyring.encrypt_to`), opened with identities; the file is replaced
atomically and has mode 0600.

Saving is safe against other writers of the same file: it holds the file's lock
(:mod:`sealbox._util.locks`) from re-reading the file to renaming the new one in. If the
file changed since this keyring read it (another process rotated it), the two are
merged (:mod:`~sealbox.keysets.keyring_merge`): every key of both is kept, so nothing sealed under
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

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Final

from cryptography.exceptions import InvalidTag

from sealbox._util.merge import Origin
from sealbox.exceptions import DecryptionError, FormatError
from sealbox.hazmat.aead import DEFAULT_ALGORITHM
from sealbox.keysets.fields import (
    HEADER_SIZE,
    VERSION_DETERMINISTIC,
    FieldKey,
    decode_token,
    encode_token,
    token_key_id,
    value_bytes,
)
from sealbox.keysets.keyring_file import (
    FORMAT,
    MAX_FILE_SIZE,
    SEALED_FORMAT,
    KeyEntry,
    is_age_file,
    new_entry,
    parse_document,
    render_document,
    settle_states,
)
from sealbox.keysets.keyring_keys import KeyInfo, KeyringKeys, _parse_key_id
from sealbox.keysets.lifecycle import KeyState

__all__ = [
    "FORMAT",
    "MAX_FILE_SIZE",
    "SEALED_FORMAT",
    "KeyInfo",
    "KeyState",
    "Keyring",
    "is_age_file",
]

_NONCE: Final = 12
_BODY: Final = HEADER_SIZE + _NONCE
_urandom = os.urandom


def _bytes(value: object, name: str) -> bytes:
    """``value`` as bytes, or a :class:`TypeError` naming the parameter (as pyca does):
    a str would otherwise fail deep inside, or an int become that many zero bytes."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        fix = (
            "a token in its text form opens with open_text()"
            if name == "token"
            else "encode it first (for example with .encode())"
        )
        raise TypeError(f"{name} must be bytes, not str: {fix}")
    raise TypeError(f"{name} must be bytes, not {type(value).__name__}")


class Keyring(KeyringKeys):
    """A set of keys with one primary key. Build one with :meth:`generate` or :meth:`load`.

    Sealing and opening are safe to call from many threads; changes (rotate,
    disable, …) are serialised by a lock.
    """

    # The others are KeyringStorage's.
    __slots__ = ("_decrypters", "_deterministic", "_primary", "_sealer")

    def __init__(self, entries: Iterable[KeyEntry], primary_id: int) -> None:
        self._lock = threading.RLock()
        self._entries: dict[int, KeyEntry] = {e.id: e for e in entries}
        if primary_id not in self._entries:
            raise FormatError(f"the primary key {primary_id:08x} is not in the keyring")
        state = self._entries[primary_id].state
        if state is not KeyState.ACTIVE:
            raise FormatError(
                f"the primary key {primary_id:08x} is {state.value}; it must be active"
            )
        settle_states(self._entries, primary_id)
        self._primary_id = primary_id
        self._primary: FieldKey
        self._sealer: tuple[bytes, Callable[[bytes, bytes, bytes], bytes]]
        self._decrypters: dict[bytes, Callable[[bytes, bytes, bytes], bytes]]
        self._deterministic: dict[bytes, FieldKey]
        self._recipients: tuple[str, ...] = ()
        # The file this keyring was read from or last saved to, as (real path, SHA-256 of
        # its bytes), and the keys as they were then: the base of a merge on save.
        self._origin: Origin | None = None
        self._base: tuple[int | None, dict[int, KeyState]] = (primary_id, {})
        self._sealed_kdf = None
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
        entry = new_entry(algorithm, (), now)
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
        if isinstance(key_id, str):
            try:
                key_id = _parse_key_id(key_id)
            except FormatError:
                return False
        return key_id in self._entries

    def __iter__(self) -> Iterator[KeyInfo]:
        return iter(self.keys())

    def __repr__(self) -> str:
        states = [e.state.value for e in self._entries.values()]
        return (
            f"Keyring(primary={self._primary_id:08x}, keys={len(states)}, "
            f"usable={sum(KeyState(s).usable for s in states)})"
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

        Raises:
            TypeError: ``data`` or ``associated_data`` is not bytes (a ``bytearray`` or
                ``memoryview`` is taken as its bytes); the message names the parameter.
        """
        if type(data) is not bytes:
            data = _bytes(data, "data")
        if type(associated_data) is not bytes:
            associated_data = _bytes(associated_data, "associated_data")
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
            TypeError: ``token`` or ``associated_data`` is not bytes (a ``bytearray`` or
                ``memoryview`` is taken as its bytes); the message names the parameter.
        """
        if type(token) is not bytes:
            token = _bytes(token, "token")
        if type(associated_data) is not bytes:
            associated_data = _bytes(associated_data, "associated_data")
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
        token = _bytes(token, "token")
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
        data, associated_data = _bytes(data, "data"), _bytes(associated_data, "associated_data")
        return self._primary.seal_deterministic(data, associated_data)

    def deterministic_tokens(self, data: bytes, associated_data: bytes = b"") -> dict[int, bytes]:
        """Return the deterministic token of ``data`` under every active or decrypt-only key.

        Use it to look a value up while rows sealed before a rotation still exist.
        """
        data, associated_data = _bytes(data, "data"), _bytes(associated_data, "associated_data")
        with self._lock:
            keys = [e.working_key() for e in self._usable()]
        return {k.key_id: k.seal_deterministic(data, associated_data) for k in keys}

    def blind_index(self, data: bytes, context: bytes = b"") -> bytes:
        """Return a keyed 32-byte digest of ``data`` under the primary key.

        Store it next to a sealed value to find rows by equality without
        decrypting. ``context`` separates columns: the same value in two
        columns gives unrelated digests.
        """
        data, context = _bytes(data, "data"), _bytes(context, "context")
        return self._primary.blind_index(data, context)

    def blind_indexes(self, data: bytes, context: bytes = b"") -> dict[int, bytes]:
        """Return the blind index of ``data`` under every active or decrypt-only key, by key id.

        Search for any of these values and lookups keep working across rotation.
        """
        data, context = _bytes(data, "data"), _bytes(context, "context")
        with self._lock:
            keys = [e.working_key() for e in self._usable()]
        return {k.key_id: k.blind_index(data, context) for k in keys}

    def seal_text(self, data: bytes | str, associated_data: bytes = b"") -> str:
        """:meth:`seal` returning the text form (URL-safe base64, no padding).

        A ``str`` value is encoded as UTF-8.

        Raises:
            ConfigError: code ``bad_value``, a ``str`` holding a lone surrogate (no
                UTF-8 form); the message quotes nothing of it.
        """
        if isinstance(data, str):
            data = value_bytes(data, "the value to seal")
        return encode_token(self.seal(data, associated_data))

    def open_text(self, token: str | bytes, associated_data: bytes = b"") -> bytes:
        """:meth:`open` for the text form of a token.

        Raises:
            DecryptionError: as :meth:`open`, and for text that is not a token.
        """
        return self.open(decode_token(token), associated_data)

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
            return render_document(self._primary_id, self._entries.values(), self._recipients)

    @classmethod
    def from_unencrypted(cls, data: bytes) -> Keyring:
        """Load a keyring from :meth:`serialize_unencrypted` output.

        Files in the older words (``enabled``) load too; see the module docstring.

        Raises:
            FormatError: the document is not a valid keyring (the message says what
                is wrong, never with key material).
        """
        entries, primary, recipients = parse_document(data)
        ring = cls(entries, primary)
        ring._recipients = recipients
        return ring

    def _usable(self) -> list[KeyEntry]:
        return [e for e in self._entries.values() if e.state.usable]

    def _refresh(self) -> None:
        # Build the lookup tables, then swap them in: readers never see a half state.
        decrypters: dict[bytes, Callable[[bytes, bytes, bytes], bytes]] = {}
        deterministic: dict[bytes, FieldKey] = {}
        for entry in self._usable():
            key = entry.working_key()
            decrypters[key.header] = key.decrypt
            deterministic[bytes([VERSION_DETERMINISTIC]) + entry.id.to_bytes(4, "big")] = key
        primary = self._entries[self._primary_id].working_key()
        self._decrypters = decrypters
        self._deterministic = deterministic
        self._primary = primary
        self._sealer = (primary.header, primary.encrypt)
