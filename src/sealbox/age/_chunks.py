"""Sealing and opening one batch of STREAM chunks (age.md, "Payload").

A batch is a run of consecutive chunks held in one buffer. Sealing may proceed
from both ends at once (the caller's thread from the front, the stream's worker
from the back); opening stops at the first chunk that fails, keeping the
plaintext of the chunks before it.
"""

from __future__ import annotations

from _thread import allocate_lock
from typing import TYPE_CHECKING, Final

from cryptography.exceptions import InvalidTag

from sealbox.age._crypto import CHUNK_SIZE, ENCRYPTED_CHUNK_SIZE, TAG_SIZE
from sealbox.age._positional import nonce as _nonce
from sealbox.hazmat.bindings import ChaCha20Poly1305

if TYPE_CHECKING:
    import threading

__all__ = ["ALTERED", "EMPTY_LAST", "TRAILING", "TRUNCATED", "Batch", "Sealing", "open_batch"]

TRUNCATED: Final = "the file is truncated or was altered: its payload has no final chunk"
ALTERED: Final = "the file was altered or damaged: a payload chunk failed to authenticate"
TRAILING: Final = "the file has data after its final chunk: it was altered or concatenated"
EMPTY_LAST: Final = "the file was altered: its final chunk is empty"


class Sealing:
    """One batch of plaintext being sealed, chunk by chunk, from either end."""

    __slots__ = (
        "_aead",
        "_back",
        "_counter",
        "_fill",
        "_front",
        "_last",
        "_lock",
        "_out",
        "_plain",
        "abandoned",
        "chunks",
        "front_done",
    )

    def __init__(
        self,
        aead: ChaCha20Poly1305,
        plain: memoryview,
        out: memoryview,
        fill: int,
        counter: int,
        *,
        last: bool,
    ) -> None:
        self._aead = aead
        self._plain = plain
        self._out = out
        self._fill = fill
        self._counter = counter
        self._last = last
        self.chunks = max(1, -(-fill // CHUNK_SIZE))  # an empty batch is one empty chunk
        self._front = 0
        self._back = self.chunks - 1
        self._lock = allocate_lock()  # threading.Lock, without importing threading
        # Made by share(): only a batch that a second thread helps to seal needs it.
        self.front_done: threading.Event | None = None
        self.abandoned = False

    def share(self) -> threading.Event:
        """Ready the batch for a second thread sealing from the back: the event returned
        is to be set once the caller's thread has stopped sealing from the front."""
        # Imported here: a batch sealed on one thread (a small input) never needs it.
        import threading

        self.front_done = threading.Event()
        return self.front_done

    def _claim(self, *, front: bool) -> int:
        with self._lock:
            if self._front > self._back:
                return -1
            if front:
                self._front += 1
                return self._front - 1
            self._back -= 1
            return self._back + 1

    def seal(self, *, front: bool) -> None:
        """Seal chunks taken from the front (or the back) until none is left."""
        while (i := self._claim(front=front)) >= 0:
            start = i * CHUNK_SIZE
            end = min(start + CHUNK_SIZE, self._fill)
            at = i * ENCRYPTED_CHUNK_SIZE
            self._aead.encrypt_into(
                _nonce(self._counter + i, last=self._last and i == self.chunks - 1),
                self._plain[start:end],
                None,
                self._out[at : at + end - start + TAG_SIZE],
            )

    def sealed(self) -> memoryview:
        """The sealed batch (once every chunk is sealed)."""
        return self._out[: self._fill + self.chunks * TAG_SIZE]


class Batch:
    """What opening one batch gave: plaintext length, whether it ended, the error."""

    __slots__ = ("error", "last", "length")

    def __init__(self, length: int, *, last: bool, error: str | None) -> None:
        self.length = length
        self.last = last
        self.error = error


def open_batch(  # noqa: PLR0911 - one exit per STREAM outcome
    aead: ChaCha20Poly1305, sealed: memoryview, eof: bool, counter: int, plain: memoryview
) -> Batch:
    """Open the chunks of one batch; stop at the first failure (keeping what came before)."""
    size = len(sealed)
    if size == 0:
        # Only possible at the very start: a payload needs at least its final chunk.
        return Batch(0, last=False, error=TRUNCATED)
    count = -(-size // ENCRYPTED_CHUNK_SIZE)
    length = 0
    for i in range(count):
        chunk = sealed[i * ENCRYPTED_CHUNK_SIZE : (i + 1) * ENCRYPTED_CHUNK_SIZE]
        final_piece = eof and i == count - 1
        n = len(chunk) - TAG_SIZE
        if n < 0:
            return Batch(length, last=False, error=ALTERED)
        out = plain[length : length + n]
        index = counter + i
        if n < CHUNK_SIZE:
            # A short chunk can only be the last one.
            if not _open(aead, _nonce(index, last=True), chunk, out):
                return Batch(length, last=False, error=ALTERED)
            if n == 0 and index != 0:
                return Batch(length, last=False, error=EMPTY_LAST)
            return Batch(length + n, last=True, error=None)
        if _open(aead, _nonce(index, last=False), chunk, out):
            length += n
            if final_piece:
                return Batch(length, last=False, error=TRUNCATED)
            continue
        if not _open(aead, _nonce(index, last=True), chunk, out):
            return Batch(length, last=False, error=ALTERED)
        if not final_piece:
            # A final chunk that authenticated is released; what follows is refused.
            return Batch(length + n, last=False, error=TRAILING)
        return Batch(length + n, last=True, error=None)
    return Batch(length, last=False, error=None)


def _open(aead: ChaCha20Poly1305, nonce: bytes, chunk: memoryview, out: memoryview) -> bool:
    try:
        aead.decrypt_into(nonce, chunk, None, out)
    except InvalidTag:
        return False
    return True
