"""File to file: the STREAM payload read and written in place, batch by batch, on two threads.

When the input and the output are both regular files, where each batch of the
payload lies is known in advance: batch ``k`` of the plaintext starts ``k``
batches into the input, and its sealed form ``k`` sealed batches into the
output. Each thread then takes whole batches (the caller's thread the even
ones, a second thread the odd ones): it reads its batch with ``pread``, seals
or opens it, and writes it with ``pwrite`` where it belongs. No data passes
from one thread to the other, and the work of each batch is done on one core.

The writes still go out in file order, one batch at a time: the file grows
from start to end as with any stream (ext4 lets one writer at a time into a
file, and two threads writing at once spent their time waiting for each
other), the first batch that ends the run (the final chunk, or a failure)
stops every batch after it, and the error reported is that of the earliest
batch that failed, whichever thread saw it first.

Thread handovers cost most here. CPython's threads take turns on the GIL
around every chunk sealed and every piece written, and a thread that finds
the GIL taken sleeps until it is woken: on a virtual machine that is the
dearest step of all. So each batch is large (4 MiB), and the calls of a batch
(its chunks, its writes) run from ``map`` with no Python code between them,
so that the GIL is held briefly, in a few bursts, and rarely found taken.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import stat
import threading
from collections import deque
from collections.abc import Callable
from itertools import repeat
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from sealbox._files import WRITE_PIECE
from sealbox.age._crypto import TAG_SIZE
from sealbox.exceptions import DecryptionError, StorageError

CHUNK: Final = 64 * 1024
SEALED_CHUNK: Final = CHUNK + TAG_SIZE
BATCH_CHUNKS: Final = 64
BATCH: Final = BATCH_CHUNKS * CHUNK
SEALED_BATCH: Final = BATCH_CHUNKS * SEALED_CHUNK

SHRANK: Final = "the input file got shorter while it was being encrypted"
SHRANK_HINT: Final = "encrypt a file that nothing is writing to"

Progress = Callable[[int], None]
# Opens one sealed batch the careful way, chunk by chunk: (sealed, eof, first chunk
# number, plaintext buffer) -> (plaintext length, whether it ended the payload, error).
OpenBatch = Callable[[memoryview, bool, int, memoryview], tuple[int, bool, str | None]]


def regular_fd(obj: object, *, writing: bool = False) -> int | None:
    """The descriptor of ``obj`` if it is a regular file usable here, else ``None``.

    An output opened for appending is not: Linux appends ``pwrite`` data at the
    end of such a file, whatever the offset. Nor is an input that says it is
    empty: files of ``/proc`` and ``/sys`` say so, and are read as streams (as
    are truly empty files, at no cost).
    """
    try:
        fd = obj.fileno()  # type: ignore[attr-defined]
        st = os.fstat(fd)
        usable = not fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_APPEND if writing else st.st_size > 0
    except (AttributeError, OSError, TypeError, ValueError):
        return None
    return fd if usable and stat.S_ISREG(st.st_mode) else None


def nonce(counter: int, *, last: bool) -> bytes:
    """The STREAM nonce of chunk ``counter``: 11 bytes big-endian, then the last flag."""
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


class _Run:
    """What the threads of one run share: whose turn it is to write, and how it ended."""

    __slots__ = ("_cond", "_turn", "error", "limit")

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._turn = 0  # the batch that writes next
        self.limit = 1 << 62  # the batch that ended the run (final chunk or failure)
        self.error: BaseException | None = None  # that of the earliest failed batch

    def wait_turn(self, k: int) -> bool:
        """Wait until every batch before ``k`` is written; false if one of them ended the run."""
        with self._cond:
            while self._turn != k and k <= self.limit:
                self._cond.wait()
            return k <= self.limit

    def written(self, k: int, *, last: bool) -> None:
        """Batch ``k`` is written: the next one's turn (none after the final chunk)."""
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


def _pread_full(fd: int, buf: memoryview, offset: int) -> int:
    """Read into ``buf`` from ``offset``; short only at the end of the file."""
    got = os.preadv(fd, [buf], offset)
    while 0 < got < len(buf):
        more = os.preadv(fd, [buf[got:]], offset + got)
        if more == 0:
            break
        got += more
    return got


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    """Write ``data`` at ``offset`` in pieces that end on multiples of WRITE_PIECE.

    Pieces of at most 32 KiB keep the page cache from taking large folios for
    the new file (see :data:`sealbox._files.WRITE_PIECE`).
    """
    size = len(data)
    first = min(size, WRITE_PIECE - offset % WRITE_PIECE)
    starts = [0, *range(first, size, WRITE_PIECE)]
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


def _more_than_a_batch(fd: int, offset: int, batch: int) -> bool:
    """Whether the file holds more than one batch now (a second thread would have work)."""
    return os.fstat(fd).st_size - offset > batch


def _buffer(size: int) -> memoryview:
    """A page-aligned buffer, untouched (and so costing no memory) until used."""
    return memoryview(mmap.mmap(-1, size))


def _run(work: Callable[[int, int, _Run], None], parallel: bool) -> None:
    """Run ``work(first batch, stride, run)`` here and, with ``parallel``, on a second thread."""
    run = _Run()

    def guarded(first: int, stride: int) -> None:
        try:
            work(first, stride, run)
        except BaseException as exc:  # noqa: BLE001 - an interruption: stop every batch
            run.fail(-1, exc)

    helper = None
    if parallel:
        helper = threading.Thread(
            target=guarded, args=(1, 2), name="sealbox-age-positional", daemon=True
        )
        helper.start()
    try:
        guarded(0, 2 if parallel else 1)
    finally:
        # The helper writes into the caller's file: it must be done before the
        # caller goes on (and closes it), even if this thread was interrupted.
        while helper is not None and helper.is_alive():
            try:
                helper.join()
            except BaseException as exc:  # noqa: BLE001 - an interruption while waiting
                run.fail(-1, exc)
    if run.error is not None:
        raise run.error


def seal(
    aead: ChaCha20Poly1305,
    *,
    src: int,
    src_offset: int,
    dst: int,
    dst_offset: int,
    progress: Progress | None = None,
    parallel: bool = True,
) -> tuple[int, int]:
    """Seal all of ``src`` from ``src_offset`` into ``dst`` at ``dst_offset``, final chunk included.

    Returns:
        The plaintext and sealed byte counts.

    Raises:
        OSError: reading or writing failed.
        StorageError: the input got shorter while it was read.
    """
    totals = [0, 0]

    def work(first: int, stride: int, run: _Run) -> None:
        plain = _buffer(BATCH + 1)  # a byte more: whether the file goes on after the batch
        sealed = _buffer(SEALED_BATCH)
        encrypt = aead.encrypt_into
        k = first
        while k <= run.limit:
            try:
                got = _pread_full(src, plain, src_offset + k * BATCH)
                last = got <= BATCH
                fill = min(got, BATCH)
                count = max(1, -(-fill // CHUNK))
                if fill or k == 0:  # the one empty chunk of an empty file
                    base = k * BATCH_CHUNKS
                    nonces = [nonce(base + i, last=False) for i in range(count)]
                    if last:
                        nonces[-1] = nonce(base + count - 1, last=True)
                    ins = [plain[i : min(i + CHUNK, fill)] for i in range(0, count * CHUNK, CHUNK)]
                    outs = [
                        sealed[i * SEALED_CHUNK : i * SEALED_CHUNK + len(ins[i]) + TAG_SIZE]
                        for i in range(count)
                    ]
                    deque(map(encrypt, nonces, ins, repeat(None), outs), maxlen=0)
                size = fill + count * TAG_SIZE
            except Exception as exc:  # noqa: BLE001 - raised by the caller's thread
                run.fail_in_turn(k, exc)
                return
            if not run.wait_turn(k):
                return
            if k and not fill:
                # The batch before said more would follow, and nothing did.
                run.fail(k, StorageError(SHRANK, hint=SHRANK_HINT))
                return
            try:
                _pwrite_all(dst, sealed[:size], dst_offset + k * SEALED_BATCH)
                totals[0] += fill
                totals[1] += size
                if progress is not None:
                    progress(fill)
            except Exception as exc:  # noqa: BLE001 - raised by the caller's thread
                run.fail(k, exc)
                return
            run.written(k, last=last)
            k += stride

    _run(work, parallel and _more_than_a_batch(src, src_offset, BATCH))
    return totals[0], totals[1]


def open_(
    aead: ChaCha20Poly1305,
    careful: OpenBatch,
    *,
    src: int,
    src_offset: int,
    dst: int,
    dst_offset: int,
    progress: Progress | None = None,
    parallel: bool = True,
) -> tuple[int, int]:
    """Open the sealed payload in ``src`` from ``src_offset`` into ``dst`` at ``dst_offset``.

    Each batch is first opened in one pass, as a well-formed payload would
    have it; a batch that does not authenticate that way is opened again by
    ``careful``, which finds the exact fault (and its message).

    Returns:
        The sealed and plaintext byte counts.

    Raises:
        DecryptionError: the payload is truncated, altered, reordered or followed
            by extra data (the fault of the earliest batch that has one).
        OSError: reading or writing failed.
    """
    totals = [0, 0]

    def open_batch(sealed: memoryview, eof: bool, base: int, plain: memoryview) -> int | None:
        """Open a well-formed batch in one pass; ``None`` if it is not one."""
        size = len(sealed)
        count = -(-size // SEALED_CHUNK)
        tail = size - (count - 1) * SEALED_CHUNK - TAG_SIZE  # plaintext in the final piece
        if size == 0 or tail < 0 or (tail == 0 and base + count > 1) or (not eof and tail < CHUNK):
            return None
        nonces = [nonce(base + i, last=False) for i in range(count)]
        if eof:
            nonces[-1] = nonce(base + count - 1, last=True)
        ins = [sealed[i : i + SEALED_CHUNK] for i in range(0, size, SEALED_CHUNK)]
        outs = [plain[i * CHUNK : i * CHUNK + len(ins[i]) - TAG_SIZE] for i in range(count)]
        try:
            deque(map(aead.decrypt_into, nonces, ins, repeat(None), outs), maxlen=0)
        except InvalidTag:
            return None
        return size - count * TAG_SIZE

    def work(first: int, stride: int, run: _Run) -> None:
        sealed = _buffer(SEALED_BATCH + 1)  # a byte more: whether the file goes on
        plain = _buffer(BATCH)
        k = first
        while k <= run.limit:
            try:
                got = _pread_full(src, sealed, src_offset + k * SEALED_BATCH)
                eof = got <= SEALED_BATCH
                size = min(got, SEALED_BATCH)
                view = sealed[:size]
                length = open_batch(view, eof, k * BATCH_CHUNKS, plain)
                if length is not None:
                    last, error = eof, None
                else:
                    length, last, error = careful(view, eof, k * BATCH_CHUNKS, plain)
            except Exception as exc:  # noqa: BLE001 - raised by the caller's thread
                run.fail_in_turn(k, exc)
                return
            if error is not None:
                run.fail_in_turn(k, DecryptionError(error))
                return
            if not run.wait_turn(k):
                return
            try:
                _pwrite_all(dst, plain[:length], dst_offset + k * BATCH)
                totals[0] += size
                totals[1] += length
                if progress is not None:
                    progress(length)
            except Exception as exc:  # noqa: BLE001 - raised by the caller's thread
                run.fail(k, exc)
                return
            run.written(k, last=last)
            k += stride

    _run(work, parallel and _more_than_a_batch(src, src_offset, SEALED_BATCH))
    return totals[0], totals[1]
