"""Three-way merge of key sets: what this writer changed, what another writer saved meanwhile.

Keyrings and signing keysets are read, changed in memory, and saved. When the file
changed on disk after this copy was read, the save merges instead of overwriting,
against the *base* (the keys as this copy read them):

- keys are never removed, so every key of either side is kept;
- a key's state: the side that changed it from the base wins; when both changed it,
  the state furthest along the key's life wins (``order`` lists states from first
  to last: a destroyed key stays destroyed);
- the primary key: the side that changed it wins; when both did (two rotations),
  the newer key wins, so the result is what running the two changes one after the
  other would have given.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import TypeVar

__all__ = ["merge_primary", "merge_states"]

K = TypeVar("K", bound=Hashable)
S = TypeVar("S")


def merge_states(
    base: Mapping[K, S], ours: Mapping[K, S], theirs: Mapping[K, S], order: Sequence[S]
) -> dict[K, S]:
    """Each key's state after merging ``ours`` and ``theirs`` against ``base``."""
    merged: dict[K, S] = dict(theirs)
    for key, mine in ours.items():
        other = theirs.get(key)
        if other is None or other == mine:
            merged[key] = mine
            continue
        was = base.get(key)
        if other == was:
            merged[key] = mine
        elif mine != was:
            merged[key] = max(mine, other, key=order.index)
    return merged


def merge_primary(base: K | None, ours: K, theirs: K, newer: Callable[[K, K], K]) -> K:
    """The primary key after merging (``newer(a, b)`` picks the more recent of two keys)."""
    if theirs in (ours, base):
        return ours
    if ours == base:
        return theirs
    return newer(ours, theirs)
