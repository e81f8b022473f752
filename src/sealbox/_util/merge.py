"""Saving a copy of a file that others may have changed meanwhile: lock, re-read, merge, write.

Three-way merge of key sets: what this writer changed, what another writer saved meanwhile.

Keyrings and signing keysets are read, changed in memory, and saved. When the file
changed on disk after this copy was read, the save merges instead of overwriting,
against the *base* (the keys as this copy read them):

- keys are never removed, so every key of either side is kept;
- a key's state: the side that changed it from the base wins; when both changed it,
  the state furthest along the key's life wins (``order`` lists states from first
  to last: a destroyed key stays destroyed);
- the primary key: the side that changed it wins; when both did (two rotations),
  the newer key wins (on a tie, the writer saving now), so the result is what
  running the two changes one after the other would have given;
- one key id holding different key material on the two sides (two writers drew or
  imported the same id) is refused: merging would silently drop one of the keys.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import TypeVar

from sealbox._util.files import atomic_write, file_exists_error, read_limited
from sealbox._util.locks import locked
from sealbox.exceptions import StorageError

__all__ = [
    "Origin",
    "merge_primary",
    "merge_sources",
    "merge_states",
    "origin_of",
    "save_merged",
]

K = TypeVar("K", bound=Hashable)
S = TypeVar("S")
E = TypeVar("E")


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


def merge_sources(
    ours: Mapping[K, E],
    theirs: Mapping[K, E],
    material: Callable[[E], object],
    *,
    refuse: Callable[[K], Exception],
) -> dict[K, E]:
    """The entry each key's facts come from: ours while it still has its material.

    Keys come in ``theirs``' order, then ours that it lacks. ``material(entry)`` is
    the key's material in a comparable form (``None`` once destroyed or retired).

    Raises:
        the exception ``refuse(key)`` makes, for a key whose material differs.
    """
    sources: dict[K, E] = {}
    for key in [*theirs, *(k for k in ours if k not in theirs)]:
        mine, other = ours.get(key), theirs.get(key)
        if mine is not None and other is not None:
            a, b = material(mine), material(other)
            if a is not None and b is not None and a != b:
                raise refuse(key)
        if mine is not None and (other is None or material(mine) is not None):
            sources[key] = mine
        else:
            assert other is not None
            sources[key] = other
    return sources


def merge_primary(base: K | None, ours: K, theirs: K, newer: Callable[[K, K], K]) -> K:
    """The primary key after merging (``newer(ours, theirs)`` picks the more recent key)."""
    if theirs in (ours, base):
        return ours
    if ours == base:
        return theirs
    return newer(ours, theirs)


Origin = tuple[str, bytes]
"""Where a copy was read from: (real path, SHA-256 of the file's bytes)."""


def origin_of(path: str | os.PathLike[str], data: bytes) -> Origin:
    """The :data:`Origin` of ``data`` read from (or written to) ``path``."""
    return os.path.realpath(path), hashlib.sha256(data).digest()


def save_merged(
    path: str | os.PathLike[str],
    *,
    origin: Origin | None,
    render: Callable[[], bytes],
    merge_from: Callable[[bytes, str], None],
    limit: int,
    what: str,
    overwrite: bool = True,
    merge: bool = True,
    mode: int = 0o600,
    too_large_hint: str | None = None,
) -> Origin:
    """Write what ``render`` makes to ``path`` under the file's lock; return the new origin.

    If the file on disk is not the one this copy came from (``origin``), the copy
    first merges it in (``merge_from(data, real_path)``), unless ``merge`` is false.
    A new file gets ``mode``; a rewrite keeps the mode, owner and group it had.
    What ``render`` makes must fit in ``limit`` bytes, the most a load reads back:
    a larger file is refused (with ``too_large_hint``) rather than written unreadable.

    Raises:
        StorageError: the file exists and ``overwrite`` is false, the new version is
            larger than ``limit``, or the file cannot be read or written (the old
            file stays as it was).
        LockTimeoutError: another writer held the lock too long.
    """
    target = os.path.realpath(path)
    with locked(target):
        if os.path.lexists(target):
            if not overwrite:
                raise file_exists_error(path)
            current = read_limited(target, limit, what)
            if merge and origin != origin_of(target, current):
                merge_from(current, target)
        data = render()
        if len(data) > limit:
            raise StorageError(
                f"cannot write {what} {os.fspath(path)}: it would be {len(data)} bytes, "
                f"more than the {limit} sealbox reads back; nothing was written",
                hint=too_large_hint,
            )
        atomic_write(path, data, mode=mode)
    return origin_of(target, data)
