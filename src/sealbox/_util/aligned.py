"""How bulk outputs reach the file system: :class:`AlignedWriter`, in aligned pieces.

A streamed output (file encryption and decryption) is written in pieces of at most
:data:`WRITE_PIECE` bytes, cut at multiples of it in the file, whatever sizes its
producer hands over.

This module is on the start-up path of every ``sealbox encrypt`` and ``decrypt``.
"""

from __future__ import annotations

import io
import os
from typing import BinaryIO, Final, Protocol

__all__ = ["WRITE_PIECE", "AlignedWriter"]

# The largest write a streamed bulk output makes, and the file offsets its writes end on
# (age's file-to-file outputs, written behind, have their own: age._output.PIECE).
# Linux (6.x) fills the page cache of a file with folios as large as each write
# allows: a write of megabytes takes its new pages in large blocks, which on a
# virtual machine are the free memory the host has taken back and must hand out
# afresh, page by page. Writes of 32 KiB use small folios taken from recently
# freed memory, several times cheaper in system time (bench/results/findings.md,
# "Write size").
WRITE_PIECE: Final = 32 * 1024


class _Sink(Protocol):
    def write(self, data: bytes | bytearray | memoryview, /) -> int | None: ...


class AlignedWriter:
    """Passes writes on to ``raw`` in pieces of at most :data:`WRITE_PIECE` bytes,
    cut at multiples of it in the file.

    Args:
        raw: the file (or any object with ``write``); a short count it returns
            is followed by a write of the rest, ``None`` counts as complete
            except from an :class:`io.RawIOBase`, where it means nothing was taken
            (a non-blocking output): :class:`BlockingIOError`.
        position: where in the file the next write lands.
    """

    __slots__ = ("_position", "_raw")

    def __init__(self, raw: _Sink, position: int = 0) -> None:
        self._raw = raw
        self._position = position

    @classmethod
    def whole(cls, dst: _Sink) -> _Sink:
        """``dst``, or a writer over it that writes again what a write left over.

        A raw output (``buffering=0``: a socket with a timeout, a pipe interrupted by a
        signal) may take part of a write and return how much; a buffered one takes all,
        and so does an :class:`AlignedWriter`.
        """
        if isinstance(dst, io.BufferedIOBase | AlignedWriter):
            return dst
        return cls(dst)

    @classmethod
    def from_file(cls, fh: BinaryIO) -> AlignedWriter:
        """Wrap ``fh`` at its current offset (0 for a pipe or a terminal)."""
        try:
            position = os.lseek(fh.fileno(), 0, os.SEEK_CUR)
        except (OSError, ValueError, AttributeError):
            position = 0
        return cls(fh, position)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Write all of ``data``; return its length."""
        view = memoryview(data).cast("B")
        total = len(view)
        write = self._raw.write
        position = self._position
        while view:
            size = min(len(view), WRITE_PIECE - position % WRITE_PIECE)
            n = write(view[:size])
            if n is None:
                if isinstance(self._raw, io.RawIOBase):
                    # A raw non-blocking file (or socket) whose buffer is full: it took none.
                    raise BlockingIOError("the output is in non-blocking mode")
                n = size
            if n <= 0:
                raise OSError("the output accepted no data")
            position += n
            view = view[n:]
        self._position = position
        return total

    def flush(self) -> None:
        """Flush ``raw`` if it buffers."""
        flush = getattr(self._raw, "flush", None)
        if flush is not None:
            flush()

    def fileno(self) -> int:
        """The descriptor of ``raw`` (for writes made directly, after :meth:`flush`)."""
        fileno = getattr(self._raw, "fileno", None)
        if fileno is None:
            raise io.UnsupportedOperation("the output has no file descriptor")
        return int(fileno())

    def moved_to(self, position: int) -> None:
        """Go on at ``position``, the end of what was written directly to the file."""
        seek = getattr(self._raw, "seek", None)
        if seek is not None:
            seek(position)
        else:
            os.lseek(self.fileno(), position, os.SEEK_SET)
        self._position = position
