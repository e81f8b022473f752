"""How a positional run writes its output: large pieces, written behind to disk.

Each batch written is handed to the disk at once, and the pages of the batch written
:data:`WRITE_BEHIND` bytes earlier (on disk by then) leave the page cache. Most of
what writing a new file costs here is the kernel taking fresh memory for its pages (on
a virtual machine, memory the host takes back when it is free, and must hand out again
page by page); so the output's pages stay few and are reused while still warm, and the
output is on disk, all but its last batches, when the run ends: the ``fsync`` before
the rename has little left to do.

May import: the standard library and :mod:`sealbox.age._crypto`.
"""

from __future__ import annotations

import contextlib
import os
from itertools import repeat
from typing import Final

from sealbox.age._crypto import ENCRYPTED_CHUNK_SIZE

__all__ = [
    "BATCH_CHUNKS",
    "PIECE",
    "SEALED_BATCH",
    "WRITE_BEHIND",
    "write_all",
    "write_behind",
]

#: Chunks per batch, and a sealed batch's size (a positional run's unit of work).
BATCH_CHUNKS: Final = 64
SEALED_BATCH: Final = BATCH_CHUNKS * ENCRYPTED_CHUNK_SIZE

# The largest write, and the file offsets writes end on. Written behind, the output's
# pages are reused while warm, and pieces of 512 KiB cost less system time than the
# 32 KiB pieces of a stream (sealbox._util.files.WRITE_PIECE), which keep the page
# cache from taking large folios out of fresh memory; 2 MiB pieces, the size of the
# largest folios, cost several times more (bench/results/findings.md, "Write-behind").
PIECE: Final = 512 * 1024

# How far behind the newest batch written the output's pages leave the page cache:
# enough batches for the disk to have taken them, few enough to stay warm in memory.
WRITE_BEHIND: Final = 8 * SEALED_BATCH


def write_all(fd: int, data: memoryview, offset: int) -> None:
    """Write ``data`` at ``offset`` in pieces that end on multiples of :data:`PIECE`."""
    size = len(data)
    first = min(size, PIECE - offset % PIECE)
    starts = [0, *range(first, size, PIECE)]
    pieces = [data[a:b] for a, b in zip(starts, [*starts[1:], size], strict=True)]
    offsets = [offset + a for a in starts]
    done = list(map(os.pwrite, repeat(fd), pieces, offsets))
    if sum(done) == size:
        return
    for piece, at, n_done in zip(pieces, offsets, done, strict=True):  # a short write: finish it
        n = n_done
        while n < len(piece):
            more = os.pwrite(fd, piece[n:], at + n)
            if more <= 0:
                raise OSError("the output accepted no data")
            n += more


def write_behind(fd: int, offset: int, size: int) -> None:
    """Start writing ``size`` bytes at ``offset`` out to disk; drop those written long before.

    ``POSIX_FADV_DONTNEED`` starts the write-back of the dirty pages of its range
    without waiting for it, and drops the pages that are clean: given again
    :data:`WRITE_BEHIND` bytes later, it finds them written and drops them. A
    page still being written stays cached, as does everything on a file system
    without a disk (tmpfs ignores the advice). Advice only: an error is ignored.
    """
    advise = getattr(os, "posix_fadvise", None)
    if advise is None:  # pragma: no cover - not Linux
        return
    with contextlib.suppress(OSError):
        advise(fd, offset, size, os.POSIX_FADV_DONTNEED)
        if offset >= WRITE_BEHIND:
            advise(fd, offset - WRITE_BEHIND, size, os.POSIX_FADV_DONTNEED)
