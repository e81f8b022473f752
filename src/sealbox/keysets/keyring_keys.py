"""Managing a keyring's keys: rotate, set the primary, disable, enable, destroy.

:class:`KeyringKeys` is the key-management half of :class:`~sealbox.keysets.keyring.Keyring`
(which inherits it; its storage is :mod:`~sealbox.keysets.keyring_store`'s). Every change
is made under the keyring's lock and ends with the keyring's lookup tables built again
and swapped in whole, so that sealing and opening never see a half state. Also
:class:`KeyInfo`, what a keyring tells about one of its keys, and key ids as they are
shown and typed (8 hex digits).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sealbox.exceptions import FormatError, KeyNotFoundError, KeyStateError
from sealbox.keysets.keyring_file import KeyEntry, new_entry
from sealbox.keysets.keyring_store import KeyringStorage
from sealbox.keysets.lifecycle import KeyState
from sealbox.keysets.sealed import format_time

__all__ = ["KeyInfo", "KeyringKeys"]

_HEX: Final = frozenset("0123456789abcdef")


def _parse_key_id(key_id: int | str) -> int:
    """A key id as an int: an int as is, or 8 hex digits as :attr:`KeyInfo.hex_id` prints
    it (``0x`` allowed), since that is how ids are shown and typed."""
    if isinstance(key_id, int) and not isinstance(key_id, bool):
        return key_id
    if not isinstance(key_id, str):
        raise TypeError(f"a key id is an int or 8 hex digits, not {type(key_id).__name__}")
    digits = key_id.strip().lower().removeprefix("0x")
    if len(digits) != 8 or not _HEX.issuperset(digits):
        shown = key_id if len(key_id) <= 40 else key_id[:40] + "…"
        raise FormatError(
            f"{shown!r} is not a key id (8 hex digits)",
            hint="list the keyring's keys to find the id",
            code="bad_key_id",
            facts={"key_id": shown},
        )
    return int(digits, 16)


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What a keyring tells about one of its keys. Never the material.

    Attributes:
        id: the 32-bit key id that tokens carry.
        algorithm: the randomized cipher the key seals with.
        state: active (the primary key), decrypt-only, disabled or destroyed.
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


class KeyringKeys(KeyringStorage):
    """Rotating, choosing the primary key, disabling, enabling and destroying keys, for
    :class:`~sealbox.keysets.keyring.Keyring`."""

    __slots__ = ()

    def rotate(self, algorithm: str | None = None, *, now: datetime | None = None) -> KeyInfo:
        """Add a fresh key and make it primary (active); the old primary becomes decrypt-only.

        Args:
            algorithm: the new key's cipher; the current primary's by default.

        Returns:
            the new key.
        """
        with self._lock:
            algorithm = algorithm or self._entries[self._primary_id].algorithm
            entry = new_entry(algorithm, self._entries, now)
            self._entries[entry.id] = entry
            self._make_primary(entry)
            return self._info(entry)

    def set_primary(self, key_id: int | str) -> None:
        """Make a decrypt-only key the primary (active) one, to roll back a rotation.

        The old primary key becomes decrypt-only.

        Raises:
            FormatError: ``key_id`` is a string but not 8 hex digits (code ``bad_key_id``).
            KeyNotFoundError: no such key.
            KeyStateError: the key is disabled or destroyed.
        """
        key_id = _parse_key_id(key_id)
        with self._lock:
            entry = self._get(key_id)
            if not entry.state.usable:
                raise KeyStateError(
                    f"key {key_id:08x} is {entry.state.value}; only an active or decrypt-only "
                    "key can be primary",
                    code="key_not_usable",
                    facts={"key_id": f"{key_id:08x}", "state": entry.state.value},
                )
            self._make_primary(entry)

    def disable(self, key_id: int | str) -> None:
        """Stop a key from opening tokens. Disabling a disabled key does nothing.

        Raises:
            FormatError: ``key_id`` is a string but not 8 hex digits (code ``bad_key_id``).
            KeyNotFoundError: no such key.
            KeyStateError: the key is the primary key, or destroyed.
        """
        key_id = _parse_key_id(key_id)
        with self._lock:
            entry = self._get(key_id)
            if key_id == self._primary_id:
                raise KeyStateError(
                    f"key {key_id:08x} is the primary key and cannot be disabled",
                    hint="rotate the keyring first so that another key becomes primary",
                    code="primary_key",
                    facts={"key_id": f"{key_id:08x}"},
                )
            if entry.state is KeyState.DESTROYED:
                raise KeyStateError(
                    f"key {key_id:08x} is destroyed",
                    code="key_destroyed",
                    facts={"key_id": f"{key_id:08x}"},
                )
            entry.state = KeyState.DISABLED
            self._refresh()

    def enable(self, key_id: int | str) -> None:
        """Let a disabled key open tokens again: it becomes decrypt-only.

        Enabling a key that already opens tokens does nothing. To seal with it too,
        :meth:`set_primary`.

        Raises:
            FormatError: ``key_id`` is a string but not 8 hex digits (code ``bad_key_id``).
            KeyNotFoundError: no such key.
            KeyStateError: the key is destroyed.
        """
        key_id = _parse_key_id(key_id)
        with self._lock:
            entry = self._get(key_id)
            if entry.state is KeyState.DESTROYED:
                raise KeyStateError(
                    f"key {key_id:08x} is destroyed and cannot be enabled again",
                    code="key_destroyed",
                    facts={"key_id": f"{key_id:08x}"},
                )
            if entry.state is KeyState.DISABLED:
                entry.state = KeyState.DECRYPT_ONLY
            self._refresh()

    def destroy(self, key_id: int | str) -> None:
        """Erase a disabled key's material for good. Tokens it made become unreadable.

        Raises:
            FormatError: ``key_id`` is a string but not 8 hex digits (code ``bad_key_id``).
            KeyNotFoundError: no such key.
            KeyStateError: the key is not disabled (disable it first, and check that
                nothing still needs it).
        """
        key_id = _parse_key_id(key_id)
        with self._lock:
            entry = self._get(key_id)
            if entry.state is KeyState.DESTROYED:
                return
            if entry.state is not KeyState.DISABLED:
                raise KeyStateError(
                    f"key {key_id:08x} must be disabled before it is destroyed",
                    hint="disable it, check that nothing still needs it, then destroy it",
                    code="key_not_disabled",
                    facts={"key_id": f"{key_id:08x}", "state": entry.state.value},
                )
            entry.state = KeyState.DESTROYED
            entry.material = None
            entry.field_key = None
            self._refresh()

    # -- internals ------------------------------------------------------------------

    def _get(self, key_id: int) -> KeyEntry:
        try:
            return self._entries[key_id]
        except KeyError:
            raise KeyNotFoundError(
                f"no key {key_id:08x} in this keyring",
                facts={"key_id": f"{key_id:08x}"},
            ) from None

    def _make_primary(self, entry: KeyEntry) -> None:
        self._entries[self._primary_id].state = KeyState.DECRYPT_ONLY
        entry.state = KeyState.ACTIVE
        self._primary_id = entry.id
        self._refresh()

    def _info(self, e: KeyEntry) -> KeyInfo:
        return KeyInfo(e.id, e.algorithm, e.state, e.id == self._primary_id, e.created)
