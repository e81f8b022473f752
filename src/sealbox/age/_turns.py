"""How the two workers of an in-place run take turns (:mod:`sealbox.age._positional`).

:class:`Run` is what two threads share: whose turn it is to write, and how the run ended.
:class:`Peer` is the same for two processes, the turns and outcomes going through two
pipes. A run on one thread (a file of one batch) has no turn to wait for and imports no
``threading``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from sealbox.exceptions import DecryptionError, StorageError

if TYPE_CHECKING:
    import threading

__all__ = ["Counts", "Peer", "Progress", "Run"]

Progress = Callable[[int], None]
# What a batch moved: bytes read, bytes written, and plaintext bytes (for progress).
Counts = tuple[int, int, int]


class Run:
    """What the threads of one run share: whose turn it is to write, and how it ended."""

    __slots__ = ("_cond", "_progress", "_turn", "error", "limit", "totals")

    def __init__(self, progress: Progress | None, *, shared: bool) -> None:
        self._cond: threading.Condition | _Alone
        if shared:
            # Imported here: a run on one thread (a small file) never loads threading.
            import threading

            self._cond = threading.Condition(threading.Lock())
        else:
            self._cond = _ALONE
        self._progress = progress
        self._turn = 0  # the batch that writes next
        self.limit = 1 << 62  # the batch that ended the run (final chunk or failure)
        self.error: BaseException | None = None  # that of the earliest failed batch
        self.totals = [0, 0]  # bytes read and written

    def wait_turn(self, k: int) -> bool:
        """Wait until every batch before ``k`` is written; false if one of them ended the run."""
        with self._cond:
            while self._turn != k and k <= self.limit:
                self._cond.wait()
            return k <= self.limit

    def written(self, k: int, counts: Counts, *, last: bool) -> None:
        """Batch ``k`` is written: the next one's turn (none after the final chunk).

        Raises what the progress callback raises, before handing the turn on.
        """
        self.totals[0] += counts[0]
        self.totals[1] += counts[1]
        if self._progress is not None:
            self._progress(counts[2])
        with self._cond:
            self._turn = k + 1
            if last:
                self.limit = min(self.limit, k)
            self._cond.notify_all()

    def fail(self, k: int, exc: BaseException) -> None:
        """End the run at batch ``k`` (-1: at once) with ``exc``, unless it ended earlier."""
        with self._cond:
            if k <= self.limit:
                self.limit = k
                self.error = exc
            self._cond.notify_all()

    def fail_in_turn(self, k: int, exc: Exception) -> None:
        """Batch ``k`` failed: end the run with ``exc`` once it is known to be part of it.

        A batch read past the end of the payload, or after an earlier failure, is
        not: the other thread may finish the run while this one waits.
        """
        if self.wait_turn(k):
            self.fail(k, exc)


class _Alone:
    """The turn-taking of a run on one thread: batches come in order, so there is
    never a turn to wait for, nor another thread to wake."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None

    def wait(self) -> None:
        raise AssertionError("a run on one thread waited for its turn")

    def notify_all(self) -> None:
        return None


_ALONE: Final = _Alone()


# A message between the two processes of a run: what happened (b"W" a batch was
# written; b"D", b"S", b"O", b"K", b"X" a failure, by kind), the batch, whether
# it was the last, the byte counts, an errno, and the length of the text after it.
_MESSAGE: Final = struct.Struct("<cq?qqqiI")


class Peer(Run):
    """One of the two processes of a run: turns and outcomes go through two pipes.

    The processes take turns strictly (this one batch ``k``, the other ``k + 1``),
    so before each turn exactly one message is due from the other side: that it
    wrote its batch (with the counts, which the parent adds to its own and passes
    to the progress callback), or that it failed (with the error, rebuilt here).
    """

    __slots__ = ("_receive_fd", "_send_fd")

    def __init__(self, receive_fd: int, send_fd: int, progress: Progress | None) -> None:
        super().__init__(progress, shared=False)  # one thread in each process
        self._receive_fd = receive_fd
        self._send_fd = send_fd

    def wait_turn(self, k: int) -> bool:
        if k > self.limit:
            return False
        if k == 0:
            return True
        kind, j, last, counts, code, text = self._receive()
        if kind == b"W":
            super().written(j, counts, last=last)
            return not last
        self.limit = -1
        self.error = _rebuild(kind, code, text)
        return False

    def written(self, k: int, counts: Counts, *, last: bool) -> None:
        super().written(k, counts, last=last)
        try:
            self._send(b"W", k, last=last, counts=counts)
        except BrokenPipeError:
            # The other process ended before reading it: the same failure as its pipe
            # found closed at the next turn, said the same way.
            raise OSError(errno.EIO, _GONE) from None

    def fail(self, k: int, exc: BaseException) -> None:
        if k > self.limit:
            return
        self.limit = k
        self.error = exc
        kind, code, text = _describe(exc)
        with contextlib.suppress(OSError):  # the other side is gone: nothing to tell
            self._send(kind, k, code=code, text=text)

    def _send(
        self,
        kind: bytes,
        k: int,
        *,
        last: bool = False,
        counts: Counts = (0, 0, 0),
        code: int = 0,
        text: str = "",
    ) -> None:
        body = text.encode()
        data = _MESSAGE.pack(kind, k, last, *counts, code, len(body)) + body
        while data:
            data = data[os.write(self._send_fd, data) :]

    def _receive(self) -> tuple[bytes, int, bool, Counts, int, str]:
        head = _read_exactly(self._receive_fd, _MESSAGE.size)
        if len(head) < _MESSAGE.size:
            return b"X", -1, False, (0, 0, 0), 0, _GONE
        kind, k, last, read, wrote, plain, code, size = _MESSAGE.unpack(head)
        text = _read_exactly(self._receive_fd, size).decode(errors="replace")
        return kind, k, last, (read, wrote, plain), code, text


# What a run says when its other process ended without a word (as _rebuild makes it).
_GONE: Final = "the second process ended unexpectedly"


def _read_exactly(fd: int, size: int) -> bytes:
    data = b""
    while len(data) < size:
        more = os.read(fd, size - len(data))
        if not more:
            break
        data += more
    return data


def _describe(exc: BaseException) -> tuple[bytes, int, str]:
    """An error as a message kind, an errno and a text (sealbox's own messages only)."""
    if isinstance(exc, DecryptionError):
        return b"D", 0, str(exc)
    if isinstance(exc, StorageError):
        return b"S", 0, f"{exc}\0{exc.hint or ''}"
    if isinstance(exc, OSError):
        return b"O", exc.errno or 0, exc.strerror or str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return b"K", 0, ""
    return b"X", 0, f"the second process failed: {type(exc).__name__}"


def _rebuild(kind: bytes, code: int, text: str) -> BaseException:
    """The error the other process described (see :func:`_describe`)."""
    if kind == b"D":
        return DecryptionError(text)
    if kind == b"S":
        message, _, hint = text.partition("\0")
        return StorageError(message, hint=hint or None)
    if kind == b"O":
        return OSError(code, text)
    if kind == b"K":
        return KeyboardInterrupt()
    return OSError(errno.EIO, text)
