"""The STREAM payload on two threads: batches, slots, failures and clean-up.

The payload is cut in batches of BATCH_CHUNKS chunks, SLOTS of them in flight;
the sizes below cross every boundary of that: chunk, batch, all slots in use.
"""

from __future__ import annotations

import io
import os
import threading
import time

import pytest
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from sealbox import age
from sealbox.age._chunks import Sealing
from sealbox.age._source import Source
from sealbox.age.stream import (
    BATCH_CHUNKS,
    BATCH_SIZE,
    CHUNK_SIZE,
    ENCRYPTED_CHUNK_SIZE,
    NONCE_SIZE,
    SEALED_BATCH_SIZE,
    SLOTS,
    PayloadReader,
    PayloadWriter,
    payload_key,
)
from sealbox.exceptions import DecryptionError

KEY = bytes(range(16))
NONCE = bytes(range(100, 116))
ME = age.X25519Identity.generate()
SIZES = [
    0,
    1,
    CHUNK_SIZE - 1,
    CHUNK_SIZE,
    CHUNK_SIZE + 1,
    BATCH_SIZE - 1,
    BATCH_SIZE,
    BATCH_SIZE + 1,
    SLOTS * BATCH_SIZE,
    SLOTS * BATCH_SIZE + 1,
    (2 * SLOTS + 1) * BATCH_SIZE + 12345,
]
DATA = os.urandom(max(SIZES))


def _seal(data: bytes, *, parallel: bool, how: str = "write") -> bytes:
    out = io.BytesIO()
    with PayloadWriter(out, KEY, nonce=NONCE, parallel=parallel) as w:
        if how == "write":
            w.write(data)
        elif how == "write_from":
            w.write_from(Source(io.BytesIO(data)))
        else:  # many writes of an odd size
            for i in range(0, len(data), 100_003):
                w.write(data[i : i + 100_003])
    return out.getvalue()


def _age_threads() -> int:
    return sum(t.name.startswith("sealbox-age") for t in threading.enumerate())


def _wait_for_threads(count: int) -> int:
    deadline = time.monotonic() + 5
    while _age_threads() > count and time.monotonic() < deadline:
        time.sleep(0.01)
    return _age_threads()


@pytest.mark.parametrize("size", SIZES)
def test_two_threads_write_what_one_thread_writes(size: int):
    # The same key and nonce give the same payload: the threads only share the work.
    one = _seal(DATA[:size], parallel=False)
    assert len(one) == NONCE_SIZE + size + 16 * max(1, -(-size // CHUNK_SIZE))
    for how in ("write", "write_from", "pieces"):
        assert _seal(DATA[:size], parallel=True, how=how) == one
    for parallel in (False, True):
        assert PayloadReader(io.BytesIO(one), KEY, parallel=parallel).read() == DATA[:size]


@pytest.mark.parametrize("size", [BATCH_SIZE + 1, (2 * SLOTS + 1) * BATCH_SIZE + 12345])
def test_files_round_trip_through_the_path_helpers(tmp_path, size: int):
    (tmp_path / "p").write_bytes(DATA[:size])
    seen: list[int] = []
    age.encrypt_file(tmp_path / "p", tmp_path / "p.age", [ME.recipient()], progress=seen.append)
    assert sum(seen) == size
    seen.clear()
    age.decrypt_file(tmp_path / "p.age", tmp_path / "out", [ME], progress=seen.append)
    assert sum(seen) == size
    assert (tmp_path / "out").read_bytes() == DATA[:size]


def test_a_batch_sealed_from_either_end_or_both_is_the_same():
    aead = ChaCha20Poly1305(payload_key(KEY, NONCE))
    fill = BATCH_SIZE - 1000  # a short final chunk

    def batch(out: bytearray) -> Sealing:
        return Sealing(aead, memoryview(DATA), memoryview(out), fill, 7, last=True)

    front, back, both = (bytearray(SEALED_BATCH_SIZE) for _ in range(3))
    batch(front).seal(front=True)
    batch(back).seal(front=False)
    shared = batch(both)
    helper = threading.Thread(target=shared.seal, kwargs={"front": False})
    helper.start()
    shared.seal(front=True)
    helper.join()
    assert front == back == both
    assert len(shared.sealed()) == fill + BATCH_CHUNKS * 16


class FailingSink:
    """Accepts ``good`` bytes, then fails every write."""

    def __init__(self, good: int) -> None:
        self.data = bytearray()
        self.good = good
        self.calls = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self.calls += 1
        if len(self.data) + len(data) > self.good:
            raise OSError(28, "No space left on device")
        self.data += data
        return len(data)


@pytest.mark.parametrize("parallel", [False, True])
def test_a_failed_write_is_raised_and_nothing_follows_it(parallel: bool):
    # The nonce and two sealed batches fit; the third batch fails.
    sink = FailingSink(NONCE_SIZE + 2 * SEALED_BATCH_SIZE)
    w = PayloadWriter(sink, KEY, nonce=NONCE, parallel=parallel)
    with pytest.raises(OSError, match="No space"):
        for i in range(0, len(DATA), CHUNK_SIZE):
            w.write(DATA[i : i + CHUNK_SIZE])
        w.close()
    assert len(sink.data) == NONCE_SIZE + 2 * SEALED_BATCH_SIZE
    with pytest.raises(OSError, match="No space"):
        w.write(b"more")
    with pytest.raises(OSError, match="No space"):
        w.close()  # the final chunk is never sealed after a lost batch
    calls = sink.calls
    w.close()
    assert sink.calls == calls
    with pytest.raises(DecryptionError):
        PayloadReader(io.BytesIO(bytes(sink.data)), KEY).read()


def test_close_raises_a_write_error_of_the_last_batches():
    sink = FailingSink(NONCE_SIZE + SEALED_BATCH_SIZE)
    w = PayloadWriter(sink, KEY, nonce=NONCE, parallel=True)
    w.write(DATA[: BATCH_SIZE + 10])  # the first batch is written, the rest fails at close
    with pytest.raises(OSError, match="No space"):
        w.close()
    assert len(sink.data) == NONCE_SIZE + SEALED_BATCH_SIZE


@pytest.mark.parametrize("parallel", [False, True])
def test_abort_drops_what_is_in_flight(parallel: bool):
    out = io.BytesIO()
    w = PayloadWriter(out, KEY, nonce=NONCE, parallel=parallel)
    w.write(DATA[: 3 * BATCH_SIZE + 5])
    w.abort()
    assert w.closed
    with pytest.raises(ValueError, match="closed"):
        w.write(b"x")
    assert len(out.getvalue()) <= NONCE_SIZE + 3 * SEALED_BATCH_SIZE
    with pytest.raises(DecryptionError):
        PayloadReader(io.BytesIO(out.getvalue()), KEY).read()


def test_an_interrupted_caller_does_not_hang_the_writer():
    class Interrupting(io.BytesIO):
        def readinto(self, buf):  # type: ignore[override]
            if self.tell() >= 2 * BATCH_SIZE:
                raise KeyboardInterrupt
            return super().readinto(buf)

    before = _age_threads()
    out = io.BytesIO()
    with pytest.raises(KeyboardInterrupt), age.Encryptor(out, [ME.recipient()]) as enc:
        enc.write_from(Interrupting(DATA))
    assert _wait_for_threads(before) <= before
    with pytest.raises(DecryptionError):
        age.decrypt(out.getvalue(), [ME])


class FailingSource(io.BytesIO):
    """Fails once ``limit`` bytes were read."""

    def __init__(self, data: bytes, limit: int) -> None:
        super().__init__(data)
        self.limit = limit

    def readinto(self, buf):  # type: ignore[override]
        if self.tell() >= self.limit:
            raise OSError(5, "Input/output error")
        view = memoryview(buf)[: self.limit - self.tell()]
        return super().readinto(view)


@pytest.mark.parametrize("parallel", [False, True])
def test_a_read_error_is_raised_and_stays_raised(parallel: bool):
    sealed = _seal(DATA[: 6 * BATCH_SIZE], parallel=False)
    r = PayloadReader(
        FailingSource(sealed, NONCE_SIZE + 3 * SEALED_BATCH_SIZE), KEY, parallel=parallel
    )
    got = bytearray()
    with pytest.raises(OSError, match="Input/output"):
        for view in r.views():
            got += view
    assert bytes(got) == DATA[: len(got)]
    assert len(got) <= 3 * BATCH_SIZE
    # Asking again never looks like a clean end of the plaintext.
    with pytest.raises(OSError, match="Input/output"):
        r.read(10)
    r.close()


def _flip(data: bytes, at: int) -> bytes:
    out = bytearray(data)
    out[at] ^= 1
    return bytes(out)


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("chunk", [0, 15, 16, 37, 70])
def test_plaintext_stops_at_the_first_altered_chunk(parallel: bool, chunk: int):
    sealed = _seal(DATA[: 5 * BATCH_SIZE], parallel=False)
    bad = _flip(sealed, NONCE_SIZE + chunk * ENCRYPTED_CHUNK_SIZE + 7)
    got = bytearray()
    with pytest.raises(DecryptionError, match="altered"):
        for view in PayloadReader(io.BytesIO(bad), KEY, parallel=parallel).views():
            got += view
    assert bytes(got) == DATA[: chunk * CHUNK_SIZE]


@pytest.mark.parametrize("parallel", [False, True])
def test_truncation_and_appended_data_across_batches(parallel: bool):
    sealed = _seal(DATA[: 3 * BATCH_SIZE + 100], parallel=False)
    at_batch = sealed[: NONCE_SIZE + 2 * SEALED_BATCH_SIZE]
    with pytest.raises(DecryptionError, match="truncated"):
        PayloadReader(io.BytesIO(at_batch), KEY, parallel=parallel).read()
    # A short final chunk followed by more bytes no longer authenticates...
    with pytest.raises(DecryptionError, match="altered"):
        PayloadReader(io.BytesIO(sealed + b"x" * 200), KEY, parallel=parallel).read()
    # ...a full one does, and what follows it is refused.
    full = _seal(DATA[: 3 * BATCH_SIZE], parallel=False)
    with pytest.raises(DecryptionError, match="after its final chunk"):
        PayloadReader(io.BytesIO(full + b"x" * 200), KEY, parallel=parallel).read()


def test_closing_early_stops_the_reader_thread():
    before = _age_threads()
    sealed = _seal(DATA, parallel=False)
    r = PayloadReader(io.BytesIO(sealed), KEY, parallel=True)
    assert r.read(10) == DATA[:10]
    r.close()
    assert _wait_for_threads(before) <= before


def test_finished_streams_leave_no_thread():
    before = _age_threads()
    for _ in range(5):
        blob = _seal(DATA[: 3 * BATCH_SIZE], parallel=True)
        with age.Decryptor(io.BytesIO(age.encrypt(DATA[:10], [ME.recipient()])), [ME]) as d:
            assert d.read() == DATA[:10]
        assert PayloadReader(io.BytesIO(blob), KEY, parallel=True).read() == DATA[: 3 * BATCH_SIZE]
    assert _wait_for_threads(before) <= before


def _page_offset(buf: memoryview) -> int:
    import ctypes
    import mmap

    return ctypes.addressof(ctypes.c_char.from_buffer(buf)) % mmap.PAGESIZE


def test_read_buffers_start_on_a_page():
    # Reads from the page cache into them keep the file's page offsets (see page_aligned).
    w = PayloadWriter(io.BytesIO(), KEY, parallel=True)
    assert [_page_offset(b) for b in w._plain] == [0] * len(w._plain)
    w.close()
    r = PayloadReader(io.BytesIO(_seal(DATA[:10], parallel=False)), KEY, parallel=True)
    assert _page_offset(r._sealed) == 0
    assert r.read() == DATA[:10]
