"""The age payload: STREAM over ChaCha20-Poly1305 in 64 KiB chunks (age.md, "Payload").

The payload starts with a 16-byte random nonce; the payload key is
``HKDF-SHA-256(ikm=file key, salt=nonce, info="payload")``. The plaintext is cut
in 64 KiB chunks, each sealed with ChaCha20-Poly1305 under the nonce
``counter (11 bytes, big-endian) || last flag (0x01 on the final chunk)``. The
final chunk may be short, and is empty only when the whole payload is.

Chunks are independent, so :class:`PayloadWriter` and :class:`PayloadReader`
work on batches of chunks in reused buffers and hand the sealing or opening of
one batch to a worker thread while the calling thread reads and writes the
neighbouring batches: pyca/cryptography releases the GIL inside the AEAD, so
I/O and cryptography overlap on two cores. Memory stays constant (a few MiB)
whatever the size of the file.

:class:`PayloadReader` releases plaintext only from chunks that authenticated,
in order, and raises :class:`~sealbox.exceptions.DecryptionError` where the
stream is altered, truncated, reordered or followed by extra bytes. Plaintext
released before that error must still be treated as unauthenticated as a whole.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Final, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from sealbox.age._crypto import FILE_KEY_SIZE, TAG_SIZE, hkdf
from sealbox.age._source import Readable, Source
from sealbox.exceptions import DecryptionError, FormatError

__all__ = [
    "CHUNK_SIZE",
    "ENCRYPTED_CHUNK_SIZE",
    "NONCE_SIZE",
    "PayloadReader",
    "PayloadWriter",
    "Writable",
    "payload_key",
]

CHUNK_SIZE: Final = 64 * 1024
ENCRYPTED_CHUNK_SIZE: Final = CHUNK_SIZE + TAG_SIZE
NONCE_SIZE: Final = 16
PAYLOAD_LABEL: Final = b"payload"
# Chunks per batch: 2 MiB of plaintext. Large enough that handing a batch to the
# worker thread costs little next to sealing it, small enough to keep memory flat.
BATCH_CHUNKS: Final = 32
_LAST: Final = b"\x01"
_NOT_LAST: Final = b"\x00"

TRUNCATED: Final = "the file is truncated or was altered: its payload has no final chunk"
ALTERED: Final = "the file was altered or damaged: a payload chunk failed to authenticate"
TRAILING: Final = "the file has data after its final chunk: it was altered or concatenated"
EMPTY_LAST: Final = "the file was altered: its final chunk is empty"


class Writable(Protocol):
    """What sealbox needs from an output: ``write``."""

    def write(self, data: bytes | bytearray | memoryview, /) -> int | None: ...


def payload_key(file_key: bytes, nonce: bytes) -> bytes:
    """``HKDF-SHA-256(ikm=file key, salt=nonce, info="payload")``."""
    if len(file_key) != FILE_KEY_SIZE or len(nonce) != NONCE_SIZE:
        raise ValueError("the file key and payload nonce must be 16 bytes each")
    return hkdf(file_key, nonce, PAYLOAD_LABEL)


def _nonce(counter: int, *, last: bool) -> bytes:
    if counter >= 1 << 88:  # pragma: no cover - 2**88 chunks is beyond any storage
        raise OverflowError("STREAM chunk counter overflow")
    return counter.to_bytes(11, "big") + (_LAST if last else _NOT_LAST)


_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    global _pool  # noqa: PLW0603 - one lazily created pool shared by every stream
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=max(2, os.cpu_count() or 1), thread_name_prefix="sealbox-age"
            )
        return _pool


def default_parallel() -> bool:
    """Whether streams use a worker thread by default (more than one CPU)."""
    return (os.cpu_count() or 1) > 1


class _Job:
    """A batch handed to the worker, or run inline when ``parallel`` is off."""

    __slots__ = ("_future", "_value")

    def __init__(self, fn: Callable[[], object], parallel: bool) -> None:
        self._future: Future[object] | None = None
        self._value: object = None
        if parallel:
            self._future = _executor().submit(fn)
        else:
            self._value = fn()

    def result(self) -> object:
        if self._future is not None:
            self._value = self._future.result()
            self._future = None
        return self._value


class PayloadWriter:
    """Encrypts a STREAM payload to ``dst`` as data is written.

    Writes the 16-byte payload nonce first. Call :meth:`close` to seal the final
    chunk: without it the payload is truncated and will not decrypt. It does not
    close ``dst``.

    Args:
        dst: where the payload goes.
        file_key: the 16-byte file key of the header.
        parallel: seal batches on a worker thread (the default with 2+ CPUs).
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
        size = BATCH_CHUNKS * CHUNK_SIZE
        self._plain = [bytearray(size), bytearray(size)]
        self._sealed = [bytearray(BATCH_CHUNKS * ENCRYPTED_CHUNK_SIZE) for _ in range(2)]
        self._slot = 0
        self._fill = 0
        self._counter = 0
        self._pending: tuple[_Job, int] | None = None
        self._closed = False
        self._failed = False
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
        if self._closed:
            raise ValueError("write to a closed age payload writer")
        view = memoryview(data).cast("B")
        total = len(view)
        size = len(self._plain[0])
        while view:
            if self._fill == size:
                self._flush_batch()
            n = min(size - self._fill, len(view))
            self._plain[self._slot][self._fill : self._fill + n] = view[:n]
            self._fill += n
            view = view[n:]
        return total

    def write_from(self, src: Source) -> int:
        """Encrypt everything ``src`` has left, reading straight into the batch buffer."""
        if self._closed:
            raise ValueError("write to a closed age payload writer")
        size = len(self._plain[0])
        total = 0
        while True:
            if self._fill == size:
                if src.at_eof():
                    return total
                self._flush_batch()
            got = src.readinto_full(memoryview(self._plain[self._slot])[self._fill :])
            self._fill += got
            total += got
            if self._fill < size:
                return total

    def _flush_batch(self) -> None:
        # A full batch with more data behind it: none of its chunks is the last.
        self._submit(last=False)
        self._slot ^= 1
        self._fill = 0

    def _submit(self, *, last: bool) -> None:
        slot, fill, counter = self._slot, self._fill, self._counter
        plain, sealed, aead = self._plain[slot], self._sealed[slot], self._aead

        def seal() -> int:
            src, out = memoryview(plain), memoryview(sealed)
            chunks = max(1, -(-fill // CHUNK_SIZE))
            written = 0
            for i in range(chunks):
                start = i * CHUNK_SIZE
                end = min(start + CHUNK_SIZE, fill)
                n = end - start + TAG_SIZE
                aead.encrypt_into(
                    _nonce(counter + i, last=last and i == chunks - 1),
                    src[start:end],
                    None,
                    out[written : written + n],
                )
                written += n
            return written

        self._counter += max(1, -(-fill // CHUNK_SIZE))
        job = _Job(seal, self._parallel)
        self._drain()
        self._pending = (job, slot)

    def _drain(self) -> None:
        if self._pending is not None:
            job, slot = self._pending
            self._pending = None
            n = job.result()
            assert isinstance(n, int)
            self._dst.write(memoryview(self._sealed[slot])[:n])

    def flush(self) -> None:
        """Nothing to do: chunks are written as soon as they can be sealed."""

    def close(self) -> None:
        """Seal the final chunk and write what is left. Does not close ``dst``."""
        if self._closed:
            return
        self._closed = True
        if self._failed:
            return
        try:
            self._submit(last=True)
            self._drain()
        except BaseException:
            self._failed = True
            raise

    def abort(self) -> None:
        """Stop without sealing the final chunk: what was written will not decrypt."""
        self._failed = True
        self._closed = True
        if self._pending is not None:
            job, _ = self._pending
            self._pending = None
            job.result()

    def __enter__(self) -> PayloadWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class _Batch:
    """What opening one batch gave: plaintext length, whether it ended, the error."""

    __slots__ = ("error", "last", "length")

    def __init__(self, length: int, *, last: bool, error: str | None) -> None:
        self.length = length
        self.last = last
        self.error = error


class PayloadReader:
    """Decrypts a STREAM payload from ``src``; plaintext comes out as chunks authenticate.

    Reads the 16-byte nonce at once. :meth:`readinto`, :meth:`read` and
    :meth:`views` return plaintext; the end of the plaintext is reported only
    after the final chunk authenticated and nothing follows it.

    Args:
        src: the payload (a :class:`Source` or a binary file object).
        file_key: the 16-byte file key of the header.
        parallel: open batches on a worker thread (the default with 2+ CPUs).

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
        batch = BATCH_CHUNKS * ENCRYPTED_CHUNK_SIZE
        # One byte more than a batch: it tells whether the batch ends the file.
        self._sealed = [bytearray(batch + 1), bytearray(batch + 1)]
        self._plain = [bytearray(BATCH_CHUNKS * CHUNK_SIZE) for _ in range(2)]
        self._carry = 0  # bytes already at the start of the next sealed buffer
        self._counter = 0
        self._slot = 0
        self._pending: _Job | None = None
        self._view = memoryview(b"")
        self._error: str | None = None
        self._done = False
        self._pending = self._read_batch()

    def _read_batch(self) -> _Job:
        slot = self._slot
        buf = self._sealed[slot]
        got = self._carry + self._src.readinto_full(memoryview(buf)[self._carry :])
        batch = len(buf) - 1
        eof = got <= batch
        self._carry = 0
        if not eof:
            self._sealed[slot ^ 1][0] = buf[batch]
            self._carry = 1
            got = batch
        counter = self._counter
        self._counter += -(-got // ENCRYPTED_CHUNK_SIZE)
        aead, plain = self._aead, self._plain[slot]

        def open_batch() -> _Batch:
            return _open_batch(aead, memoryview(buf)[:got], eof, counter, memoryview(plain))

        return _Job(open_batch, self._parallel)

    def _next_view(self) -> bool:
        """Make the next batch's plaintext current; False at the end (or raise)."""
        if self._error is not None:
            raise DecryptionError(self._error)
        if self._pending is None:
            return False
        batch = self._pending.result()
        assert isinstance(batch, _Batch)
        slot = self._slot
        self._pending = None
        self._slot ^= 1
        if batch.error is not None:
            self._error = batch.error
        elif batch.last:
            self._done = True
        else:
            self._pending = self._read_batch()
        self._view = memoryview(self._plain[slot])[: batch.length]
        if not self._view and self._error is not None:
            raise DecryptionError(self._error)
        return bool(self._view) or self._pending is not None

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
        """Wait for work in flight. Does not close the source."""
        if self._pending is not None:
            self._pending.result()
            self._pending = None
        self._view = memoryview(b"")


def _open_batch(  # noqa: PLR0911 - one exit per STREAM outcome
    aead: ChaCha20Poly1305, sealed: memoryview, eof: bool, counter: int, plain: memoryview
) -> _Batch:
    """Open the chunks of one batch; stop at the first failure (keeping what came before)."""
    size = len(sealed)
    if size == 0:
        # Only possible at the very start: a payload needs at least its final chunk.
        return _Batch(0, last=False, error=TRUNCATED)
    count = -(-size // ENCRYPTED_CHUNK_SIZE)
    length = 0
    for i in range(count):
        chunk = sealed[i * ENCRYPTED_CHUNK_SIZE : (i + 1) * ENCRYPTED_CHUNK_SIZE]
        final_piece = eof and i == count - 1
        n = len(chunk) - TAG_SIZE
        if n < 0:
            return _Batch(length, last=False, error=ALTERED)
        out = plain[length : length + n]
        index = counter + i
        if n < CHUNK_SIZE:
            # A short chunk can only be the last one.
            if not _open(aead, _nonce(index, last=True), chunk, out):
                return _Batch(length, last=False, error=ALTERED)
            if n == 0 and index != 0:
                return _Batch(length, last=False, error=EMPTY_LAST)
            return _Batch(length + n, last=True, error=None)
        if _open(aead, _nonce(index, last=False), chunk, out):
            length += n
            if final_piece:
                return _Batch(length, last=False, error=TRUNCATED)
            continue
        if not _open(aead, _nonce(index, last=True), chunk, out):
            return _Batch(length, last=False, error=ALTERED)
        if not final_piece:
            # A final chunk that authenticated is released; what follows is refused.
            return _Batch(length + n, last=False, error=TRAILING)
        return _Batch(length + n, last=True, error=None)
    return _Batch(length, last=False, error=None)


def _open(aead: ChaCha20Poly1305, nonce: bytes, chunk: memoryview, out: memoryview) -> bool:
    try:
        aead.decrypt_into(nonce, chunk, None, out)
    except InvalidTag:
        return False
    return True
