"""The age payload: STREAM over ChaCha20-Poly1305 in 64 KiB chunks (age.md, "Payload").

The payload starts with a 16-byte random nonce; the payload key is
``HKDF-SHA-256(ikm=file key, salt=nonce, info="payload")``. The plaintext is cut
in 64 KiB chunks, each sealed with ChaCha20-Poly1305 under the nonce
``counter (11 bytes, big-endian) || last flag (0x01 on the final chunk)``. The
final chunk may be short, and is empty only when the whole payload is.

Chunks are independent, so :class:`PayloadWriter` and :class:`PayloadReader`
work on batches of chunks (1 MiB) in a few reused buffers, on two threads: the
reader's own thread reads and opens the next batches while the caller uses the
plaintext of earlier ones; the caller seals batches while the writer's own
thread writes the earlier ones out, in order. pyca/cryptography releases the
GIL inside the AEAD and the file system calls release it too, so the two
threads run on two cores. Memory stays constant (a few MiB) whatever the size
of the file.

:class:`PayloadReader` releases plaintext only from chunks that authenticated,
in order, and raises :class:`~sealbox.exceptions.DecryptionError` where the
stream is altered, truncated, reordered or followed by extra bytes. Plaintext
released before that error must still be treated as unauthenticated as a whole.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Callable, Iterator
from functools import partial
from typing import Final, Protocol

from sealbox.age import _positional
from sealbox.age._chunks import ALTERED, EMPTY_LAST, TRAILING, TRUNCATED, Batch, Sealing, open_batch
from sealbox.age._crypto import (
    CHUNK_SIZE,
    ENCRYPTED_CHUNK_SIZE,
    FILE_KEY_SIZE,
    NONCE_SIZE,
    hkdf,
)
from sealbox.age._source import Readable, Source
from sealbox.age._worker import Job, Worker, default_parallel, page_aligned
from sealbox.exceptions import DecryptionError, FormatError
from sealbox.hazmat.bindings import ChaCha20Poly1305

__all__ = [
    "ALTERED",
    "CHUNK_SIZE",
    "EMPTY_LAST",
    "ENCRYPTED_CHUNK_SIZE",
    "NONCE_SIZE",
    "TRAILING",
    "TRUNCATED",
    "PayloadReader",
    "PayloadWriter",
    "Writable",
    "payload_key",
]

PAYLOAD_LABEL: Final = b"payload"
# Chunks per batch: 1 MiB of plaintext. Large enough that handing a batch to a
# thread costs little next to sealing it, small enough to keep memory flat.
BATCH_CHUNKS: Final = 16
BATCH_SIZE: Final = BATCH_CHUNKS * CHUNK_SIZE
SEALED_BATCH_SIZE: Final = BATCH_CHUNKS * ENCRYPTED_CHUNK_SIZE
# Batches in flight per stream with two threads: the one the caller fills (or
# uses) and up to three that the other thread writes out (or has read ahead),
# so that neither thread waits on a brief stall of the other.
SLOTS: Final = 4


class Writable(Protocol):
    """What sealbox needs from an output: ``write``."""

    def write(self, data: bytes | bytearray | memoryview, /) -> int | None: ...


def payload_key(file_key: bytes, nonce: bytes) -> bytes:
    """``HKDF-SHA-256(ikm=file key, salt=nonce, info="payload")``."""
    if len(file_key) != FILE_KEY_SIZE or len(nonce) != NONCE_SIZE:
        raise ValueError("the file key and payload nonce must be 16 bytes each")
    return hkdf(file_key, nonce, PAYLOAD_LABEL)


_nonce = _positional.nonce


class PayloadWriter:
    """Encrypts a STREAM payload to ``dst`` as data is written.

    Writes the 16-byte payload nonce first. Call :meth:`close` to seal the final
    chunk: without it the payload is truncated and will not decrypt. It does not
    close ``dst``.

    With ``parallel``, the caller's thread fills and seals batches and a thread
    of the writer's own writes them to ``dst``, in order, meanwhile (and helps
    seal when it is ahead). ``dst`` must then accept writes from that thread;
    an error it raises is raised again by the next :meth:`write` or by
    :meth:`close`, and nothing after the failed batch is written. A payload of
    one batch is sealed and written on the caller's thread, and starts none.

    Args:
        dst: where the payload goes.
        file_key: the 16-byte file key of the header.
        parallel: write on a second thread (the default with 2+ CPUs).
        nonce: the payload nonce; random by default. Only tests pass one.
    """

    def __init__(
        self,
        dst: Writable,
        file_key: bytes,
        *,
        parallel: bool | None = None,
        nonce: bytes | None = None,
    ) -> None:
        nonce = os.urandom(NONCE_SIZE) if nonce is None else nonce
        self._aead = ChaCha20Poly1305(payload_key(file_key, nonce))
        self._dst = dst
        self._parallel = default_parallel() if parallel is None else parallel
        slots = SLOTS if self._parallel else 1
        # One byte more than a batch: see write_from. Reads land at buf[1:] from file
        # offsets of the same page offset, with buf[0] on a page boundary.
        self._plain = [page_aligned(BATCH_SIZE + 1) for _ in range(slots)]
        self._sealed = [page_aligned(SEALED_BATCH_SIZE) for _ in range(slots)]
        # The sealing and writing of the batch last submitted from each slot.
        self._jobs: list[Job | None] = [None] * slots
        self._io: Worker | None = None
        self._slot = 0
        self._fill = 0
        self._counter = 0
        self._closed = False
        self._failed = False
        self._broken = False  # a write failed: the batches after it are not written
        self._failure: BaseException | None = None  # raised again by write and close
        dst.write(nonce)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` (or :meth:`abort`) was called."""
        return self._closed

    def writable(self) -> bool:
        """Always true while open."""
        return not self._closed

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Encrypt ``data`` (buffered up to one batch); return its length."""
        self._check_open()
        view = memoryview(data).cast("B")
        total = len(view)
        while view:
            if self._fill == BATCH_SIZE:
                self._flush_batch()
            n = min(BATCH_SIZE - self._fill, len(view))
            self._plain[self._slot][self._fill : self._fill + n] = view[:n]
            self._fill += n
            view = view[n:]
        return total

    def write_from(self, src: Source) -> int:
        """Encrypt everything ``src`` has left, reading straight into the batch buffer."""
        self._check_open()
        # The buffers have one byte more than a batch: reading a full batch and one
        # byte tells whether more follows, without a separate look-ahead.
        total = 0
        while True:
            buf = self._plain[self._slot]
            got = src.readinto_full(memoryview(buf)[self._fill :])
            self._fill += got
            total += got
            if self._fill <= BATCH_SIZE:
                return total  # the end of src: close() seals what is left
            self._fill = BATCH_SIZE
            self._flush_batch()
            self._plain[self._slot][0] = buf[BATCH_SIZE]
            self._fill = 1

    def seal_file(
        self,
        src: int,
        src_offset: int,
        dst: int,
        dst_offset: int,
        progress: Callable[[int], None] | None = None,
        *,
        processes: bool = False,
    ) -> tuple[int, int]:
        """Seal the regular file ``src`` from ``src_offset`` on, and finish the payload.

        Nothing may have been written yet. The sealed chunks are written into
        the regular file ``dst`` at ``dst_offset``, where the payload nonce (from
        the buffered writes before) must end: the caller flushes ``dst`` first.
        See :mod:`sealbox.age._positional`; with ``processes`` (and ``parallel``)
        the second worker is a forked process where that is safe. The writer is
        closed afterwards.

        Returns:
            How many bytes were read from ``src`` and written to ``dst``.
        """
        self._check_open()
        if self._fill or self._counter:
            raise ValueError("seal_file needs a payload writer that nothing was written to")
        self._closed = True
        try:
            return _positional.seal(
                self._aead,
                src=src,
                src_offset=src_offset,
                dst=dst,
                dst_offset=dst_offset,
                progress=progress,
                parallel=self._parallel,
                processes=processes,
            )
        except BaseException:
            self._failed = self._broken = True
            raise

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("write to a closed age payload writer")
        if self._failure is not None:
            raise self._failure

    def _flush_batch(self) -> None:
        # A full batch with more data behind it: none of its chunks is the last.
        self._submit(last=False)
        self._slot = (self._slot + 1) % len(self._plain)
        self._fill = 0
        job, self._jobs[self._slot] = self._jobs[self._slot], None
        if job is not None:
            try:
                job.result()  # the slot's previous batch is written (or its error raised)
            except BaseException as exc:
                self._failure = exc
                raise

    def _submit(self, *, last: bool) -> None:
        """Seal the current batch and have it written.

        With a thread, the caller seals chunks from the front while the writer's
        thread, if it has nothing else to do, seals from the back; it writes the
        batch once both are done. Whichever thread is less busy seals more.
        """
        slot = self._slot
        batch = Sealing(
            self._aead,
            memoryview(self._plain[slot]),
            memoryview(self._sealed[slot]),
            self._fill,
            self._counter,
            last=last,
        )
        self._counter += batch.chunks
        # The last batch with no thread yet is the only one (a small input): sealed and
        # written here, as without a second thread, which it would not keep busy.
        if not self._parallel or (last and self._io is None):
            try:
                batch.seal(front=True)
                self._dst.write(batch.sealed())
            except BaseException as exc:
                self._failure = exc
                raise
            return
        if self._io is None:
            self._io = Worker()
        front_done = batch.share()
        self._jobs[slot] = Job(partial(self._seal_and_write, batch), self._io)
        try:
            batch.seal(front=True)
        except BaseException as exc:
            batch.abandoned = True
            self._failure = exc
            raise
        finally:
            front_done.set()

    def _seal_and_write(self, batch: Sealing) -> None:
        """On the writer's thread: help seal ``batch``, then write it, in order."""
        try:
            batch.seal(front=False)
            assert batch.front_done is not None  # shared before the job was made
            batch.front_done.wait()
            if batch.abandoned or self._broken:
                self._broken = True
                return
            self._dst.write(batch.sealed())
        except BaseException:
            self._broken = True
            raise

    def _settle(self) -> BaseException | None:
        """Wait for every write in flight, oldest first; return the first error."""
        first: BaseException | None = None
        slots = len(self._jobs)
        for i in range(1, slots + 1):
            slot = (self._slot + i) % slots
            job, self._jobs[slot] = self._jobs[slot], None
            if job is None:
                continue
            try:
                job.result()
            except BaseException as exc:  # noqa: BLE001 - raised again by the caller
                first = first or exc
        if self._io is not None:
            self._io.shutdown()
            self._io = None
        return first

    def flush(self) -> None:
        """Nothing to do: batches are written as soon as they are sealed."""

    def close(self) -> None:
        """Seal the final chunk and write what is left. Does not close ``dst``."""
        if self._closed:
            return
        self._closed = True
        if self._failed:
            return
        if self._failure is not None:
            # A batch was lost: sealing the final chunk now would end a file with a gap.
            self._failed = self._broken = True
            self._settle()
            raise self._failure
        try:
            self._submit(last=True)
        except BaseException:
            self._failed = self._broken = True
            self._settle()
            raise
        error = self._settle()
        if error is not None:
            self._failed = True
            raise error

    def abort(self) -> None:
        """Stop without sealing the final chunk: what was written will not decrypt.

        Batches still waiting to be written are dropped.
        """
        self._failed = self._broken = True
        self._closed = True
        self._settle()

    def __enter__(self) -> PayloadWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class PayloadReader:
    """Decrypts a STREAM payload from ``src``; plaintext comes out as chunks authenticate.

    Reads the 16-byte nonce at once. :meth:`readinto`, :meth:`read` and
    :meth:`views` return plaintext; the end of the plaintext is reported only
    after the final chunk authenticated and nothing follows it.

    With ``parallel``, a thread of the reader's own reads and opens the next
    batches while the caller uses the plaintext of earlier ones; ``src`` must
    then allow reads from that thread, and belongs to the reader until
    :meth:`close`. The first batch is read on the caller's thread: a payload
    that ends in it starts no thread.

    Args:
        src: the payload (a :class:`Source` or a binary file object).
        file_key: the 16-byte file key of the header.
        parallel: read and open on a second thread (the default with 2+ CPUs).

    Raises:
        FormatError: the input ends before the 16-byte payload nonce.
        DecryptionError: (when reading) the payload is truncated, altered,
            reordered, or followed by extra data.
    """

    def __init__(self, src: Source | Readable, file_key: bytes, *, parallel: bool | None = None):
        self._src = src if isinstance(src, Source) else Source(src)
        nonce = self._src.read(NONCE_SIZE)
        if len(nonce) != NONCE_SIZE:
            raise FormatError("the file is truncated: the payload nonce is missing")
        self._aead = ChaCha20Poly1305(payload_key(file_key, nonce))
        self._parallel = default_parallel() if parallel is None else parallel
        # One byte more than a batch: it tells whether the batch ends the file.
        self._sealed = page_aligned(SEALED_BATCH_SIZE + 1)
        slots = SLOTS if self._parallel else 1
        self._plain = [page_aligned(BATCH_SIZE) for _ in range(slots)]
        self._free = deque(range(slots))
        self._queue: deque[tuple[int, Job]] = deque()  # batches read or being read, in order
        self._current: int | None = None  # the slot whose plaintext the caller is using
        self._io: Worker | None = None
        # Touched only by the reads, which run one after another.
        self._carry: int | None = None  # the byte read past the previous batch
        self._counter = 0
        self._ended = False  # the input was read to its end, or reading failed
        self._closing = False
        # The caller's side.
        self._view = memoryview(b"")
        self._error: str | None = None
        self._failure: BaseException | None = None
        self._done = False
        # Reading starts with the first request for plaintext (or open_file).

    def _refill(self) -> None:
        """Start reading into the free slots (one batch at a time without a thread)."""
        while self._free and not self._ended and (self._parallel or not self._queue):
            slot = self._free.popleft()
            # The first batch is read here, as without a thread: an input that ends in it
            # (a small one) never starts one. The counter moves once a batch is read.
            if self._parallel and self._io is None and self._counter:
                self._io = Worker()
            self._queue.append((slot, Job(partial(self._read, slot), self._io)))

    def _read(self, slot: int) -> Batch | None:
        """Read the next batch and open it into ``slot``; ``None`` after the end."""
        if self._ended or self._closing:
            return None
        buf = self._sealed
        start = 0
        if self._carry is not None:
            buf[0] = self._carry
            self._carry = None
            start = 1
        try:
            got = start + self._src.readinto_full(memoryview(buf)[start:])
        except BaseException:
            self._ended = True
            raise
        eof = got <= SEALED_BATCH_SIZE
        if eof:
            self._ended = True
        else:
            self._carry = buf[SEALED_BATCH_SIZE]
            got = SEALED_BATCH_SIZE
        counter = self._counter
        self._counter += -(-got // ENCRYPTED_CHUNK_SIZE)
        batch = open_batch(
            self._aead, memoryview(buf)[:got], eof, counter, memoryview(self._plain[slot])
        )
        if batch.error is not None:
            self._ended = True
        return batch

    def _next_view(self) -> bool:
        """Make the next batch's plaintext current; False at the end (or raise)."""
        if self._closing:
            raise ValueError("read from a closed age payload reader")
        if self._failure is not None:
            raise self._failure
        if self._error is not None:
            raise DecryptionError(self._error)
        if self._current is not None:
            self._free.append(self._current)
            self._current = None
        if self._done:
            return False
        try:
            self._refill()
            slot, job = self._queue.popleft()
            batch = job.result()
        except BaseException as exc:
            self._failure = exc
            raise
        # A read finds nothing to do only after the end, which stops the caller first.
        assert isinstance(batch, Batch)
        self._current = slot
        if batch.error is not None:
            self._error = batch.error
        elif batch.last:
            self._done = True
        self._view = memoryview(self._plain[slot])[: batch.length]
        if not self._view and self._error is not None:
            raise DecryptionError(self._error)
        return bool(self._view) or not self._done

    def open_file(
        self,
        src: int,
        src_offset: int,
        dst: int,
        dst_offset: int,
        progress: Callable[[int], None] | None = None,
        *,
        processes: bool = False,
    ) -> tuple[int, int]:
        """Open the whole payload, from ``src_offset`` in the regular file ``src``, into ``dst``.

        The payload must not have been read from yet; ``src_offset`` is where
        the chunks start (after the nonce). The plaintext is written into the
        regular file ``dst`` at ``dst_offset``. See :mod:`sealbox.age._positional`
        (and :meth:`PayloadWriter.seal_file` for ``processes``). The reader is at
        its end afterwards.

        Returns:
            How many bytes were read from ``src`` and written to ``dst``.

        Raises:
            DecryptionError: as :meth:`read`; what was written to ``dst`` must
                then be thrown away.
        """
        if self._queue or self._current is not None or self._ended or self._counter:
            raise ValueError("open_file needs a payload reader that nothing was read from")
        self._ended = True
        try:
            counts = _positional.open_(
                self._aead,
                self._careful,
                src=src,
                src_offset=src_offset,
                dst=dst,
                dst_offset=dst_offset,
                progress=progress,
                parallel=self._parallel,
                processes=processes,
            )
        except DecryptionError as exc:
            self._error = str(exc)
            raise
        except BaseException as exc:
            self._failure = exc
            raise
        self._done = True
        return counts

    def _careful(
        self, sealed: memoryview, eof: bool, counter: int, plain: memoryview
    ) -> tuple[int, bool, str | None]:
        batch = open_batch(self._aead, sealed, eof, counter, plain)
        return batch.length, batch.last, batch.error

    def readable(self) -> bool:
        """Always true."""
        return True

    def readinto(self, buf: bytearray | memoryview) -> int:
        """Fill ``buf`` with plaintext; 0 at the authenticated end of the payload."""
        out = memoryview(buf).cast("B")
        while not self._view:
            if not self._next_view():
                return 0
        n = min(len(out), len(self._view))
        out[:n] = self._view[:n]
        self._view = self._view[n:]
        return n

    def read(self, size: int = -1) -> bytes:
        """Return up to ``size`` bytes of plaintext (all that is left if negative)."""
        if size is None or size < 0:
            return b"".join(bytes(v) for v in self.views())
        buf = bytearray(size)
        n = self.readinto(buf)
        del buf[n:]
        return bytes(buf)

    def views(self) -> Iterator[memoryview]:
        """Yield the remaining plaintext as views into the reader's buffers.

        Each view is valid until the next one is requested: write it out (or copy
        it) before asking for more. This is the copy-free path for large files.
        """
        while True:
            while not self._view:
                if not self._next_view():
                    return
            view, self._view = self._view, memoryview(b"")
            yield view

    def close(self) -> None:
        """Wait for the reads in flight and stop reading ahead. Does not close the source."""
        self._closing = True
        self._view = memoryview(b"")
        while self._queue:
            _, job = self._queue.popleft()
            with contextlib.suppress(Exception):  # the caller is done with this stream
                job.result()
        if self._io is not None:
            self._io.shutdown()
            self._io = None
