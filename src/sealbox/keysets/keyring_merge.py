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
from sealbox.keysets.merged_copy import unusable_primary

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
        raise unusable_primary(
            "keyring",
            f"{primary:08x}",
            chosen.state,
            ours=None if mine is None else mine.state,
            target=target,
        )
    chosen.state = KeyState.ACTIVE
    settle_states(entries, primary)
    return entries, primary
