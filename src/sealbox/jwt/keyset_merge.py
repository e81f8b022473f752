"""Merging a signing keyset with the copy another writer saved meanwhile.

The rules are those of :mod:`sealbox._util.merge`: every key of both sides is kept; a
state changed on one side takes that side's; changed on both, the state furthest
along the key's life (active, decrypt-only, disabled, destroyed) wins, so a key
destroyed on either side stays destroyed; of two new primary keys the newer wins.
Then the merged primary key is the one active key. A primary key that the merge
leaves disabled or destroyed, or one kid holding two different keys, is refused.
"""

from __future__ import annotations

from collections.abc import Mapping

from sealbox._util.merge import merge_primary, merge_sources, merge_states
from sealbox.exceptions import ConcurrentChangeError
from sealbox.jwt.keyset_file import SigningEntry, private_jwk, settle_states
from sealbox.keysets.lifecycle import KeyState
from sealbox.keysets.merged_copy import unusable_primary

__all__ = ["merge_keysets"]


def merge_keysets(
    ours: Mapping[str, SigningEntry],
    our_primary: str,
    theirs: Mapping[str, SigningEntry],
    their_primary: str,
    *,
    base: tuple[str | None, Mapping[str, KeyState]],
    target: str,
) -> tuple[dict[str, SigningEntry], str]:
    """The keys and the primary kid of the merge of two keysets.

    Args:
        ours: this writer's keys.
        theirs: the keys of the file on disk.
        base: the primary key and states when this writer read the file
            (``(None, {})`` if it did not read this file).
        target: the file's path, for messages.

    Raises:
        ConcurrentChangeError: two different keys under one kid, or a primary key
            one writer disabled or destroyed while the other made it primary (the
            message says which writer did which).
    """
    base_primary, base_states = base
    states = merge_states(
        base_states,
        {e.kid: e.state for e in ours.values()},
        {e.kid: e.state for e in theirs.values()},
        list(KeyState),
    )
    sources = merge_sources(
        ours,
        theirs,
        lambda e: None if e.private is None else private_jwk(e.alg, e.private),
        refuse=lambda kid: ConcurrentChangeError(
            f"keyset {target}: another writer added a different key with the same kid {kid}",
            path=target,
            names=[kid],
            hint="load the keyset again and repeat the change",
        ),
    )
    entries: dict[str, SigningEntry] = {}
    for kid, source in sources.items():
        state = states[kid]
        if state is KeyState.DESTROYED:
            mine, other = ours.get(kid), theirs.get(kid)
            when = (mine or source).destroyed or (other or source).destroyed
            entries[kid] = SigningEntry(kid, source.alg, state, source.created, None, when)
        else:
            entries[kid] = SigningEntry(kid, source.alg, state, source.created, source.private)

    def newer(ours: str, theirs: str) -> str:
        # One-second timestamps: within a second, the rotation saved last wins.
        return theirs if entries[theirs].created > entries[ours].created else ours

    primary = merge_primary(base_primary, our_primary, their_primary, newer)
    chosen = entries[primary]
    if not chosen.state.usable:
        mine = ours.get(primary)
        raise unusable_primary(
            "keyset",
            primary,
            chosen.state,
            ours=None if mine is None else mine.state,
            target=target,
        )
    chosen.state = KeyState.ACTIVE
    settle_states(entries, primary)
    for entry in entries.values():
        entry.publish()
    return entries, primary
