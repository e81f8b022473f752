"""A keyring or signing keyset as a copy of a file, saved back with a merge.

What :class:`~sealbox.keysets.keyring_store.KeyringStorage` and
:class:`~sealbox.jwt.keyset_store.SigningKeySetStorage` share: which file and which
bytes a copy was read from (its origin), the keys' states as it read them (the base of
the three-way merge, :mod:`sealbox._util.merge`), the merge of a file another writer
changed, and the refusals of a merge. The locked, durable save itself is
:func:`sealbox._util.merge.save_merged`; each store says how its form is opened, and
how two sets of its keys are merged.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, Self, TypeVar

from sealbox._util.merge import Origin
from sealbox.exceptions import ConcurrentChangeError, ConfigError, DecryptionError, FormatError
from sealbox.keysets.lifecycle import KeyState

__all__ = ["MergedCopy", "unusable_primary"]

K = TypeVar("K", bound=Hashable)

#: What opening the file on disk raises when it cannot be merged: another protection
#: (a passphrase or identity that does not open it, none given for its form), another
#: file (not this kind of document), or one altered.
_UNOPENABLE = (ConfigError, DecryptionError, FormatError)


class MergedCopy(Generic[K]):
    """The bookkeeping of a key set read from a file and saved back to it with a merge.

    ``K`` is the type of the key ids. A subclass says how its keys' states are read
    (:meth:`_key_states`), how the other writer's keys are merged in
    (:meth:`_merge_in`) and what a file that cannot be opened to merge is called
    (:meth:`_unmergeable`).
    """

    __slots__ = ("_base", "_lock", "_origin")

    _lock: threading.RLock
    _origin: Origin | None
    _base: tuple[K | None, dict[K, KeyState]]

    def serialize_unencrypted(self) -> bytes:
        """The document in clear (the key set defines it)."""
        raise NotImplementedError

    @classmethod
    def from_unencrypted(cls, data: bytes) -> Self:
        """A key set from its document in clear (the key set defines it)."""
        raise NotImplementedError

    def _refresh(self) -> None:
        raise NotImplementedError

    def _key_states(self) -> tuple[K, dict[K, KeyState]]:
        """The primary key's id and each key's state (called under the lock)."""
        raise NotImplementedError

    def _merge_in(
        self, theirs: Self, base: tuple[K | None, dict[K, KeyState]], target: str
    ) -> None:
        """Merge the keys of ``theirs`` into these (called under the lock).

        Raises:
            ConcurrentChangeError: the merge is refused.
        """
        raise NotImplementedError

    def _unmergeable(self, target: str, *, read_here: bool) -> ConcurrentChangeError:
        """The refusal of a file that cannot be opened to merge (``read_here``: this copy
        was read from it, so another writer changed it)."""
        raise NotImplementedError

    def _merge_from(self, open_theirs: Callable[[], Self], target: str) -> None:
        """Merge in the file at ``target`` that another writer changed (or that this copy
        was not read from), opened by ``open_theirs``; for ``save_merged``.

        Raises:
            ConcurrentChangeError: it cannot be opened, or the merge is refused.
        """
        read_here = self._origin is not None and self._origin[0] == target
        try:
            theirs = open_theirs()
        except _UNOPENABLE:
            raise self._unmergeable(target, read_here=read_here) from None
        # A file this copy was not read from shares no history with it: every key there
        # is the other side's.
        base: tuple[K | None, dict[K, KeyState]] = self._base if read_here else (None, {})
        with self._lock:
            self._merge_in(theirs, base, target)
            self._refresh()

    def _remember(self, origin: Origin) -> None:
        """This copy is now the file's content (read or written): the base of the next merge."""
        with self._lock:
            self._origin = origin
            self._base = self._key_states()


def unusable_primary(
    what: str, kid: str, state: KeyState, *, ours: KeyState | None, target: str
) -> ConcurrentChangeError:
    """The refusal of a merge whose primary key ``kid`` ends up ``state`` (disabled or
    destroyed); ``ours`` is the key's state in this writer's copy (``None``: it lacks it).

    A writer can neither disable its own primary key nor make a disabled one primary, so
    one side chose the key and the other changed its state: if this writer changed it,
    the other made it primary.
    """
    if ours is not None and not ours.usable:
        verb = "disable" if state is KeyState.DISABLED else "disable and destroy"
        error = ConcurrentChangeError(
            f"{what} {target}: another writer made key {kid} primary at the same time, and "
            f"the primary key cannot be {state.value}",
            path=target,
            names=[kid],
            hint=f"load the {what} again: key {kid} is primary now; make another key primary "
            f"first (rotate, or set another key primary), then {verb} it",
        )
    else:
        error = ConcurrentChangeError(
            f"{what} {target}: the primary key {kid} was {state.value} by another writer",
            path=target,
            names=[kid],
            hint=f"load the {what} again and repeat the change",
        )
    error.facts.update(key_id=kid, state=state.value)
    return error
