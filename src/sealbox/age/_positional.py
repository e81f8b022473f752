"""File to file: the STREAM payload read and written in place, batch by batch, by two workers.

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
Where forking is safe and the caller asks for it (the command line does), the
second worker is a forked process instead, with a GIL of its own: see
:func:`_run_forked`.

The output is written in large pieces and behind, to disk as it grows
(:mod:`sealbox.age._output`).
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import os
import signal
import stat
import sys
from collections import deque
from collections.abc import Callable
from itertools import repeat
from typing import Final

from cryptography.exceptions import InvalidTag

from sealbox.age._crypto import CHUNK_SIZE, ENCRYPTED_CHUNK_SIZE, TAG_SIZE
from sealbox.age._output import (
    BATCH_CHUNKS,
    SEALED_BATCH,
    write_all,
    write_behind,
)
from sealbox.age._turns import Counts, Peer, Progress, Run
from sealbox.exceptions import DecryptionError, StorageError
from sealbox.hazmat.bindings import ChaCha20Poly1305

BATCH: Final = BATCH_CHUNKS * CHUNK_SIZE

SHRANK: Final = "the input file got shorter while it was being encrypted"
SHRANK_HINT: Final = "encrypt a file that nothing is writing to"

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


def _nonces(first: int, count: int, *, last: bool) -> list[bytes]:
    """The nonces of ``count`` chunks from ``first`` on; the final one flagged if ``last``."""
    nonces = [nonce(first + i, last=False) for i in range(count)]
    if last:
        nonces[-1] = nonce(first + count - 1, last=True)
    return nonces


def _pread_full(fd: int, buf: memoryview, offset: int) -> int:
    """Read into ``buf`` from ``offset``; short only at the end of the file."""
    got = os.preadv(fd, [buf], offset)
    while 0 < got < len(buf):
        more = os.preadv(fd, [buf[got:]], offset + got)
        if more == 0:
            break
        got += more
    return got


# A batch ready to write: the bytes, where they go, its counts, whether it ends the payload.
Prepared = tuple[memoryview, int, Counts, bool]


def _drive(run: Run, first: int, stride: int, prepare: Callable[[int], Prepared], dst: int) -> None:
    """Prepare batches ``first``, ``first + stride``, ... and write each in its turn.

    A batch that fails to prepare ends the run only if it is part of it (see
    :meth:`Run.fail_in_turn`); one that fails to write ends it at once.
    """
    k = first
    while k <= run.limit:
        try:
            data, offset, counts, last = prepare(k)
        except Exception as exc:  # noqa: BLE001 - raised by the caller's thread
            run.fail_in_turn(k, exc)
            return
        if not run.wait_turn(k):
            return
        try:
            write_all(dst, data, offset)
            write_behind(dst, offset, len(data))
            run.written(k, counts, last=last)
        except Exception as exc:  # noqa: BLE001 - raised by the caller's thread
            run.fail(k, exc)
            return
        k += stride


def _more_than_a_batch(fd: int, offset: int, batch: int) -> bool:
    """Whether the file holds more than one batch now (a second thread would have work)."""
    return os.fstat(fd).st_size - offset > batch


def _buffer(size: int) -> memoryview:
    """A page-aligned buffer, untouched (and so costing no memory) until used."""
    import mmap

    return memoryview(mmap.mmap(-1, size))


Work = Callable[[int, int, Run], None]


def _run(
    work: Work, progress: Progress | None, *, parallel: bool, processes: bool
) -> tuple[int, int]:
    """Run ``work(first batch, stride, run)`` here and, with ``parallel``, on a second thread.

    With ``processes`` too, the second worker is a forked process, whose GIL is
    its own; that is done only in a process with no other thread (see
    :func:`_run_forked`), and threads are used when the fork itself fails (no
    memory, or too many processes). Returns the bytes read and written.
    """
    if parallel and processes and _can_fork():
        forked = _run_forked(work, progress)
        if forked is not None:
            return forked
    run = Run(progress, shared=parallel)

    def guarded(first: int, stride: int) -> None:
        try:
            work(first, stride, run)
        except BaseException as exc:  # noqa: BLE001 - an interruption: stop every batch
            run.fail(-1, exc)

    helper = None
    if parallel:
        import threading

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
    return run.totals[0], run.totals[1]


def _can_fork() -> bool:
    """Whether forking is safe here: Linux, and no other thread that could hold a lock."""
    import threading

    return sys.platform == "linux" and threading.active_count() == 1


def _run_forked(work: Work, progress: Progress | None) -> tuple[int, int] | None:
    """Run ``work`` on the even batches here and on the odd ones in a forked process.

    Two threads of one interpreter take turns on the GIL around every chunk
    sealed and every piece written; two processes do not. The child shares the
    open files, ignores SIGINT (the parent stops it), never returns into the
    caller's code and ends with ``os._exit``, so no ``atexit`` handler, buffer
    flush or finaliser of the parent runs twice. It stops at its next turn once
    the parent has failed, or when the parent's pipe closes. Returns ``None``,
    having done nothing, if the process cannot fork.
    """
    parent_reads, child_writes = os.pipe()
    child_reads, parent_writes = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        for fd in (parent_reads, child_writes, child_reads, parent_writes):
            os.close(fd)
        return None
    if pid == 0:  # pragma: no cover - the child; its work is measured through the parent
        status = 1
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            gc.disable()  # no finaliser of the parent's objects may run here
            os.close(parent_reads)
            os.close(parent_writes)
            peer = Peer(child_reads, child_writes, None)
            try:
                work(1, 2, peer)
            except BaseException as exc:  # noqa: BLE001 - told to the parent
                peer.fail(-1, exc)
            status = 0
        finally:
            os._exit(status)
    os.close(child_reads)
    os.close(child_writes)
    peer = Peer(parent_reads, parent_writes, progress)
    try:
        work(0, 2, peer)
    except BaseException as exc:  # noqa: BLE001 - raised below
        peer.fail(-1, exc)
    finally:
        os.close(parent_writes)  # the child sees the end of its pipe at its next turn
        os.close(parent_reads)
        _reap(pid, peer)
    if peer.error is not None:
        raise peer.error
    return peer.totals[0], peer.totals[1]


def _reap(pid: int, peer: Peer) -> None:
    """Wait for the child; an interruption meanwhile kills it (it writes into our file)."""
    while True:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            return
        except BaseException as exc:  # noqa: BLE001 - an interruption while waiting
            peer.limit = -1
            peer.error = peer.error or exc
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            continue
        return


def seal(
    aead: ChaCha20Poly1305,
    *,
    src: int,
    src_offset: int,
    dst: int,
    dst_offset: int,
    progress: Progress | None = None,
    parallel: bool = True,
    processes: bool = False,
) -> tuple[int, int]:
    """Seal all of ``src`` from ``src_offset`` into ``dst`` at ``dst_offset``, final chunk included.

    Returns:
        The plaintext and sealed byte counts.

    Raises:
        OSError: reading or writing failed.
        StorageError: the input got shorter while it was read.
    """

    def work(first: int, stride: int, run: Run) -> None:
        plain = _buffer(BATCH + 1)  # a byte more: whether the file goes on after the batch
        sealed = _buffer(SEALED_BATCH)
        encrypt = aead.encrypt_into

        def prepare(k: int) -> Prepared:
            got = _pread_full(src, plain, src_offset + k * BATCH)
            last = got <= BATCH
            fill = min(got, BATCH)
            if k and not fill:
                # The batch before said more would follow, and nothing did.
                raise StorageError(SHRANK, hint=SHRANK_HINT)
            count = max(1, -(-fill // CHUNK_SIZE))  # an empty file is one empty chunk
            nonces = _nonces(k * BATCH_CHUNKS, count, last=last)
            ins = [
                plain[i : min(i + CHUNK_SIZE, fill)]
                for i in range(0, count * CHUNK_SIZE, CHUNK_SIZE)
            ]
            outs = [
                sealed[i * ENCRYPTED_CHUNK_SIZE : i * ENCRYPTED_CHUNK_SIZE + len(ins[i]) + TAG_SIZE]
                for i in range(count)
            ]
            deque(map(encrypt, nonces, ins, repeat(None), outs), maxlen=0)
            size = fill + count * TAG_SIZE
            return sealed[:size], dst_offset + k * SEALED_BATCH, (fill, size, fill), last

        _drive(run, first, stride, prepare, dst)

    parallel = parallel and _more_than_a_batch(src, src_offset, BATCH)
    return _run(work, progress, parallel=parallel, processes=processes)


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
    processes: bool = False,
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

    def open_batch(sealed: memoryview, eof: bool, base: int, plain: memoryview) -> int | None:
        """Open a well-formed batch in one pass; ``None`` if it is not one."""
        size = len(sealed)
        count = -(-size // ENCRYPTED_CHUNK_SIZE)
        tail = size - (count - 1) * ENCRYPTED_CHUNK_SIZE - TAG_SIZE  # plaintext in the final piece
        if (
            size == 0
            or tail < 0
            or (tail == 0 and base + count > 1)
            or (not eof and tail < CHUNK_SIZE)
        ):
            return None
        nonces = _nonces(base, count, last=eof)
        ins = [sealed[i : i + ENCRYPTED_CHUNK_SIZE] for i in range(0, size, ENCRYPTED_CHUNK_SIZE)]
        outs = [
            plain[i * CHUNK_SIZE : i * CHUNK_SIZE + len(ins[i]) - TAG_SIZE] for i in range(count)
        ]
        try:
            deque(map(aead.decrypt_into, nonces, ins, repeat(None), outs), maxlen=0)
        except InvalidTag:
            return None
        return size - count * TAG_SIZE

    def work(first: int, stride: int, run: Run) -> None:
        sealed = _buffer(SEALED_BATCH + 1)  # a byte more: whether the file goes on
        plain = _buffer(BATCH)

        def prepare(k: int) -> Prepared:
            got = _pread_full(src, sealed, src_offset + k * SEALED_BATCH)
            eof = got <= SEALED_BATCH
            size = min(got, SEALED_BATCH)
            view = sealed[:size]
            length = open_batch(view, eof, k * BATCH_CHUNKS, plain)
            last = eof
            if length is None:
                length, last, error = careful(view, eof, k * BATCH_CHUNKS, plain)
                if error is not None:
                    raise DecryptionError(error)
            return plain[:length], dst_offset + k * BATCH, (size, length, length), last

        _drive(run, first, stride, prepare, dst)

    parallel = parallel and _more_than_a_batch(src, src_offset, SEALED_BATCH)
    return _run(work, progress, parallel=parallel, processes=processes)
