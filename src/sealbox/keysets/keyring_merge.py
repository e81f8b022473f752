"""Merging a keyring with the copy another writer saved meanwhile.

The rules are those of :mod:`sealbox._util.merge`: every key of both sides is kept; a
state changed on one side takes that side's; changed on both, the state furthest
along the key's life (active, decrypt-only, disabled, destroyed) wins; of two new
primary keys the newer wins. Then the merged primary key is the one active key (a
primary that a side had made decrypt-only by rotating away from it is active again;
the other side's primary becomes decrypt-only). A primary key that the merge leaves
disabled or destroyed, or one key id holding two different keys, is refused.
"""

from __future__ import annotations

from collections.abc import Mapping

from sealbox._util.merge import merge_primary, merge_sources, merge_states
from sealbox.exceptions import ConcurrentChangeError
from sealbox.keysets.keyring_file import KeyEntry, settle_states
from sealbox.keysets.lifecycle import KeyState

__all__ = ["merge_keyrings"]


def merge_keyrings(
    ours: Mapping[int, KeyEntry],
    our_primary: int,
    theirs: Mapping[int, KeyEntry],
    their_primary: int,
    *,
    base: tuple[int | None, Mapping[int, KeyState]],
    target: str,
) -> tuple[dict[int, KeyEntry], int]:
    """The keys and the primary key id of the merge of two keyrings.

    Args:
        ours: this writer's keys.
        theirs: the keys of the file on disk.
        base: the primary key and states when this writer read the file
            (``(None, {})`` if it did not read this file).
        target: the file's path, for messages.

    Raises:
        ConcurrentChangeError: two different keys under one id, or a primary key
            the other writer disabled.
    """
    base_primary, base_states = base
    states = merge_states(
        base_states,
        {e.id: e.state for e in ours.values()},
        {e.id: e.state for e in theirs.values()},
        list(KeyState),
    )
    sources = merge_sources(
        ours,
        theirs,
        lambda e: e.material,
        refuse=lambda key_id: ConcurrentChangeError(
            f"keyring {target}: another writer added a different key with the same id {key_id:08x}",
            path=target,
            names=[f"{key_id:08x}"],
            hint="load the keyring again and repeat the change",
        ),
    )
    entries: dict[int, KeyEntry] = {}
    for key_id, source in sources.items():
        entry = KeyEntry(key_id, source.algorithm, states[key_id], source.created, source.material)
        if entry.state is KeyState.DESTROYED:
            entry.material = None
        entries[key_id] = entry

    def newer(ours: int, theirs: int) -> int:
        # Creation times have one-second resolution: within a second, the
        # rotation saved last (this one) wins, as running them in turn would.
        return theirs if entries[theirs].created > entries[ours].created else ours

    primary = merge_primary(base_primary, our_primary, their_primary, newer)
    chosen = entries[primary]
    if not chosen.state.usable:
        mine = ours.get(primary)
        raise _unusable_primary(
            primary,
            chosen.state,
            we_did_it=mine is not None and not mine.state.usable,
            target=target,
        )
    chosen.state = KeyState.ACTIVE
    settle_states(entries, primary)
    return entries, primary


def _unusable_primary(
    key_id: int, state: KeyState, *, we_did_it: bool, target: str
) -> ConcurrentChangeError:
    """The refusal of a merge whose primary key is disabled or destroyed.

    A writer can neither disable its own primary key nor make a disabled one primary, so
    one side chose the key and the other changed its state: if this writer changed it,
    the other made it primary.
    """
    kid = f"{key_id:08x}"
    if we_did_it:
        verb = "disable" if state is KeyState.DISABLED else "disable and destroy"
        error = ConcurrentChangeError(
            f"keyring {target}: another writer made key {kid} primary at the same time, and "
            f"the primary key cannot be {state.value}",
            path=target,
            names=[kid],
            hint=f"load the keyring again: key {kid} is primary now; make another key primary "
            f"first (rotate, or set another key primary), then {verb} it",
        )
    else:
        error = ConcurrentChangeError(
            f"keyring {target}: the primary key {kid} was {state.value} by another writer",
            path=target,
            names=[kid],
            hint="load the keyring again and repeat the change",
        )
    error.facts.update(key_id=kid, state=state.value)
    return error
