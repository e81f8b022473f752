"""File to file: the payload sealed and opened in place (sealbox.age._positional).

Between two regular files each thread takes whole batches (reads, seals or
opens, writes at the batch's place). The stream classes are the reference:
the same key and nonce must give the same bytes, and every damaged file the
same error, whichever thread handles which batch.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sealbox import age
from sealbox._util.files import AlignedWriter
from sealbox.age import _output, _positional
from sealbox.age._source import Source
from sealbox.age.files import open_into, seal_into
from sealbox.age.stream import (
    ALTERED,
    CHUNK_SIZE,
    ENCRYPTED_CHUNK_SIZE,
    NONCE_SIZE,
    TRAILING,
    TRUNCATED,
    PayloadReader,
    PayloadWriter,
)
from sealbox.exceptions import DecryptionError, StorageError

KEY = bytes(range(16))
NONCE = bytes(range(200, 216))
ME = age.X25519Identity.generate()
BATCH = _positional.BATCH
SEALED_BATCH = _positional.SEALED_BATCH
SIZES = [
    0,
    1,
    CHUNK_SIZE - 1,
    CHUNK_SIZE,
    CHUNK_SIZE + 1,
    BATCH - 1,
    BATCH,
    BATCH + 1,
    2 * BATCH,
    2 * BATCH + 1,
    3 * BATCH + 12345,
]
DATA = os.urandom(3 * BATCH + CHUNK_SIZE)
MODES = pytest.mark.parametrize(
    "mode", ["one-thread", "two-threads", "two-processes"], ids=lambda m: m
)


@pytest.fixture
def forks(monkeypatch) -> list[int]:
    """Record the processes forked by _positional (allowed here whatever threads pytest has).

    The child runs only the batch work and ends with os._exit, which is what makes
    forking safe; the command line, where it is used, checks it has no other thread.
    """
    pids: list[int] = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        if pid:
            pids.append(pid)
        return pid

    monkeypatch.setattr(_positional, "_can_fork", lambda: True)
    monkeypatch.setattr(_positional.os, "fork", fork)
    return pids


def _options(mode: str) -> tuple[bool, bool]:
    return mode != "one-thread", mode == "two-processes"


def _stream_seal(data: bytes) -> bytes:
    out = io.BytesIO()
    with PayloadWriter(out, KEY, nonce=NONCE, parallel=False) as w:
        w.write(data)
    return out.getvalue()


def _seal_in_place(folder: Path, data: bytes, mode: str) -> bytes:
    parallel, processes = _options(mode)
    src, dst = folder / "plain", folder / "sealed"
    src.write_bytes(data)
    with open(src, "rb", buffering=0) as fin, open(dst, "wb") as fout:
        writer = PayloadWriter(fout, KEY, nonce=NONCE, parallel=parallel)
        fout.flush()
        read, written = writer.seal_file(
            fin.fileno(), 0, fout.fileno(), NONCE_SIZE, processes=processes
        )
        assert writer.closed
    sealed = dst.read_bytes()
    assert (read, written) == (len(data), len(sealed) - NONCE_SIZE)
    return sealed


def _open_in_place(folder: Path, sealed: bytes, mode: str) -> bytes:
    parallel, processes = _options(mode)
    src, dst = folder / "sealed", folder / "opened"
    src.write_bytes(sealed)
    with open(src, "rb", buffering=0) as fin, open(dst, "wb") as fout:
        source = Source(fin)
        reader = PayloadReader(source, KEY, parallel=parallel)
        start = fin.tell() - source.buffered()
        assert start == NONCE_SIZE
        reader.open_file(fin.fileno(), start, fout.fileno(), 0, processes=processes)
        assert reader.read() == b""  # at its end
    return dst.read_bytes()


def _stream_open_error(sealed: bytes) -> str | None:
    try:
        PayloadReader(io.BytesIO(sealed), KEY, parallel=False).read()
    except DecryptionError as exc:
        return str(exc)
    return None


def _forked_as_expected(forks: list[int], mode: str, size: int, batch: int) -> bool:
    # A second worker starts only when the file holds more than one batch.
    expected = mode == "two-processes" and size > batch
    return forks == [] if not expected else len(forks) == 1


@MODES
@pytest.mark.parametrize("size", SIZES)
def test_sealing_in_place_writes_what_the_stream_writes(tmp_path, forks, size: int, mode: str):
    assert _seal_in_place(tmp_path, DATA[:size], mode) == _stream_seal(DATA[:size])
    assert _forked_as_expected(forks, mode, size, BATCH)


@MODES
@pytest.mark.parametrize("size", SIZES)
def test_opening_in_place_gives_the_plaintext(tmp_path, forks, size: int, mode: str):
    sealed = _stream_seal(DATA[:size])
    assert _open_in_place(tmp_path, sealed, mode) == DATA[:size]
    assert _forked_as_expected(forks, mode, len(sealed) - NONCE_SIZE, SEALED_BATCH)


SEALED = _stream_seal(DATA[: 3 * BATCH + 12345])
FULL = _stream_seal(DATA[: 3 * BATCH + CHUNK_SIZE])  # its final chunk is a whole one
CHUNKS = -(-(len(SEALED) - NONCE_SIZE) // ENCRYPTED_CHUNK_SIZE)


def _flip(data: bytes, chunk: int, offset: int = 100) -> bytes:
    at = NONCE_SIZE + chunk * ENCRYPTED_CHUNK_SIZE + offset
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]


def _swap(data: bytes, a: int, b: int) -> bytes:
    body = data[NONCE_SIZE:]
    chunks = [body[i : i + ENCRYPTED_CHUNK_SIZE] for i in range(0, len(body), ENCRYPTED_CHUNK_SIZE)]
    chunks[a], chunks[b] = chunks[b], chunks[a]
    return data[:NONCE_SIZE] + b"".join(chunks)


def _cut(data: bytes, chunks: int) -> bytes:
    return data[: NONCE_SIZE + chunks * ENCRYPTED_CHUNK_SIZE]


DAMAGED = {
    "flip-first-chunk": (_flip(SEALED, 0), ALTERED),
    "flip-end-of-batch-0": (_flip(SEALED, 63, ENCRYPTED_CHUNK_SIZE - 1), ALTERED),
    "flip-start-of-batch-1": (_flip(SEALED, 64, 0), ALTERED),
    "flip-final-chunk": (_flip(SEALED, CHUNKS - 1), ALTERED),
    "swap-across-batches": (_swap(SEALED, 10, 70), ALTERED),
    "cut-at-a-batch-boundary": (_cut(SEALED, 128), TRUNCATED),
    "cut-after-a-chunk": (_cut(SEALED, 100), TRUNCATED),
    "cut-inside-a-chunk": (SEALED[:-5000], ALTERED),
    "final-chunk-dropped": (_cut(SEALED, CHUNKS - 1), TRUNCATED),
    "bytes-appended-to-a-short-final-chunk": (SEALED + b"x", ALTERED),
    "bytes-after-a-whole-final-chunk": (FULL + b"x", TRAILING),
    "a-chunk-after-a-whole-final-chunk": (FULL + FULL[NONCE_SIZE : NONCE_SIZE + 200], TRAILING),
    "only-the-nonce": (SEALED[:NONCE_SIZE], TRUNCATED),
    # Two faults: the earlier one is reported, whichever thread saw its batch first.
    "flip-then-cut": (_cut(_flip(SEALED, 3), 100), ALTERED),
    "flip-in-batch-1-and-2": (_flip(_flip(SEALED, 64), 130), ALTERED),
}


@MODES
@pytest.mark.parametrize("case", DAMAGED, ids=list(DAMAGED))
def test_a_damaged_payload_gives_the_error_the_stream_gives(tmp_path, forks, case: str, mode: str):
    sealed, message = DAMAGED[case]
    assert _stream_open_error(sealed) == message
    for _ in range(3):  # the workers' timing differs from run to run; the error must not
        with pytest.raises(DecryptionError) as info:
            _open_in_place(tmp_path, sealed, mode)
        assert str(info.value) == message
    assert all(_reaped(pid) for pid in forks)


def test_an_input_that_shrinks_while_read_is_refused(tmp_path):
    src, dst = tmp_path / "plain", tmp_path / "sealed"
    src.write_bytes(DATA[: 2 * BATCH + 10])

    def shrink(_n: int) -> None:
        os.truncate(src, BATCH)  # after batch 0, which saw more to come

    with open(src, "rb", buffering=0) as fin, open(dst, "wb") as fout:
        writer = PayloadWriter(fout, KEY, nonce=NONCE, parallel=False)
        fout.flush()
        with pytest.raises(StorageError, match="got shorter"):
            writer.seal_file(fin.fileno(), 0, fout.fileno(), NONCE_SIZE, shrink)


def _seal_file_calls(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = _positional.seal

    def spy(*args, **kwargs):
        calls.append(kwargs["src_offset"])
        return real(*args, **kwargs)

    monkeypatch.setattr(_positional, "seal", spy)
    return calls


def test_the_path_helpers_seal_in_place(tmp_path, monkeypatch):
    calls = _seal_file_calls(monkeypatch)
    src = tmp_path / "in"
    src.write_bytes(DATA[: 2 * BATCH + 3])
    age.encrypt_file(src, tmp_path / "in.age", [ME.recipient()])
    assert calls == [0]
    age.decrypt_file(tmp_path / "in.age", tmp_path / "out", [ME])
    assert (tmp_path / "out").read_bytes() == DATA[: 2 * BATCH + 3]


def test_the_path_helpers_force_the_output_to_disk_before_renaming_it(tmp_path, monkeypatch):
    events: list[tuple[str, str]] = []
    real_fsync, real_link = os.fsync, os.link

    def fsync(fd: int) -> None:
        events.append(("fsync", os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))))
        real_fsync(fd)

    def link(src: str, dst: str) -> None:
        events.append(("link", os.path.basename(dst)))
        real_link(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "link", link)
    src = tmp_path / "in"
    src.write_bytes(DATA[: 2 * BATCH + 3])
    age.encrypt_file(src, tmp_path / "in.age", [ME.recipient()])
    age.decrypt_file(tmp_path / "in.age", tmp_path / "out", [ME])
    for name in ("in.age", "out"):
        synced = next(i for i, e in enumerate(events) if e[0] == "fsync" and f".{name}." in e[1])
        assert synced < events.index(("link", name))
    assert (tmp_path / "out").read_bytes() == DATA[: 2 * BATCH + 3]


def test_each_batch_written_is_sent_to_disk_and_dropped_from_the_cache_later(tmp_path, monkeypatch):
    advice: list[tuple[int, int]] = []
    real = os.posix_fadvise

    def spy(fd: int, offset: int, size: int, what: int) -> None:
        assert what == os.POSIX_FADV_DONTNEED
        advice.append((offset, size))
        real(fd, offset, size, what)

    monkeypatch.setattr(os, "posix_fadvise", spy)
    size = _output.WRITE_BEHIND + 2 * BATCH + 5
    src = tmp_path / "in"
    src.write_bytes(os.urandom(size))
    age.encrypt_file(src, tmp_path / "in.age", [ME.recipient()])
    sealed = (tmp_path / "in.age").stat().st_size
    header = sealed - (size + -(-size // CHUNK_SIZE) * (ENCRYPTED_CHUNK_SIZE - CHUNK_SIZE))
    batches = [(header + k * SEALED_BATCH, SEALED_BATCH) for k in range(-(-size // BATCH))]
    batches[-1] = (batches[-1][0], sealed - batches[-1][0])
    assert set(batches) <= set(advice)
    behind = [(at - _output.WRITE_BEHIND, n) for at, n in batches if at >= _output.WRITE_BEHIND]
    assert behind and set(behind) <= set(advice)
    assert len(advice) == len(batches) + len(behind)
    assert age.decrypt((tmp_path / "in.age").read_bytes(), [ME]) == src.read_bytes()


def test_an_input_read_from_an_offset_is_sealed_from_there(tmp_path, monkeypatch):
    calls = _seal_file_calls(monkeypatch)
    src = tmp_path / "in"
    src.write_bytes(DATA[: 2 * BATCH + 100])
    out = io.BytesIO()
    with open(src, "rb") as fin:  # buffered, like stdin
        assert len(fin.read(100)) == 100
        with open(tmp_path / "in.age", "wb") as fh:
            seal_into(fin, AlignedWriter.from_file(fh), [ME.recipient()])
        assert fin.tell() == 2 * BATCH + 100
    assert calls == [100]
    out.write(age.decrypt((tmp_path / "in.age").read_bytes(), [ME]))
    assert out.getvalue() == DATA[100 : 2 * BATCH + 100]


def test_a_file_that_starts_further_in_is_opened_from_there(tmp_path):
    sealed = age.encrypt(DATA[: BATCH + 7], [ME.recipient()])
    src = tmp_path / "in.age"
    src.write_bytes(b"#" * 37 + sealed)
    with open(src, "rb") as fin, open(tmp_path / "out", "wb") as fh:
        fin.seek(37)
        with age.Decryptor(fin, [ME]) as dec:
            open_into(dec, AlignedWriter.from_file(fh))
        assert fin.tell() == 37 + len(sealed)
    assert (tmp_path / "out").read_bytes() == DATA[: BATCH + 7]


def test_an_output_opened_for_appending_is_written_as_a_stream(tmp_path, monkeypatch):
    # pwrite on an O_APPEND file appends, whatever the offset: such an output must
    # not be written in place.
    calls = _seal_file_calls(monkeypatch)
    src, dst = tmp_path / "in", tmp_path / "log.age"
    src.write_bytes(DATA[: BATCH + 5])
    dst.write_bytes(b"prefix")
    with open(src, "rb", buffering=0) as fin, open(dst, "ab") as fh:
        assert _positional.regular_fd(fh, writing=True) is None
        seal_into(fin, AlignedWriter.from_file(fh), [ME.recipient()])
    assert calls == []
    data = dst.read_bytes()
    assert data.startswith(b"prefix")
    assert age.decrypt(data[6:], [ME]) == DATA[: BATCH + 5]


def test_what_is_not_a_regular_file_is_not_used_in_place(tmp_path):
    assert _positional.regular_fd(io.BytesIO()) is None
    assert _positional.regular_fd(object()) is None
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with open(empty, "rb") as fh:
        assert _positional.regular_fd(fh) is None  # says it is empty, as /proc files do
        assert _positional.regular_fd(fh, writing=True) == fh.fileno()
    read, write = os.pipe()
    try:
        with open(read, "rb", closefd=False) as fh:
            assert _positional.regular_fd(fh) is None
    finally:
        os.close(read)
        os.close(write)


def _positional_threads() -> int:
    return sum(t.name == "sealbox-age-positional" for t in threading.enumerate())


@pytest.mark.parametrize("error", [KeyboardInterrupt, ValueError])
def test_a_failure_on_the_second_thread_stops_the_run_and_leaves_nothing(tmp_path, error):
    src, dst = tmp_path / "in", tmp_path / "out.age"
    src.write_bytes(DATA[: 3 * BATCH + 1])
    seen: list[str] = []

    def progress(_n: int) -> None:
        seen.append(threading.current_thread().name)
        if threading.current_thread() is not threading.main_thread():
            raise error("stop")

    with pytest.raises(error, match="stop"):
        age.encrypt_file(src, dst, [ME.recipient()], progress=progress)
    assert "sealbox-age-positional" in seen
    assert not dst.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["in"]
    assert _positional_threads() == 0


def test_an_interruption_of_the_caller_waits_for_the_second_thread(tmp_path):
    src, dst = tmp_path / "in.age", tmp_path / "out"
    src.write_bytes(age.encrypt(DATA[: 3 * BATCH + 1], [ME.recipient()]))

    def progress(_n: int) -> None:
        if threading.current_thread() is threading.main_thread():
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        age.decrypt_file(src, dst, [ME], progress=progress)
    assert _positional_threads() == 0
    assert [p.name for p in tmp_path.iterdir()] == ["in.age"]


def _limited_child(folder: Path, limit: int) -> None:  # pragma: no cover - runs in a child
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    os.chdir(folder)


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE behaviour checked on Linux")
def test_a_write_error_on_either_thread_is_reported_and_leaves_nothing(tmp_path):
    src = tmp_path / "big"
    src.write_bytes(DATA[: 3 * BATCH + 1])
    for limit in (BATCH + BATCH // 2, 2 * BATCH + BATCH // 2):  # batch 1, then batch 2
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "sealbox",
                "encrypt",
                "-r",
                str(ME.recipient()),
                "-o",
                "big.age",
                "big",
            ],
            capture_output=True,
            text=True,
            preexec_fn=lambda limit=limit: _limited_child(tmp_path, limit),
            check=False,
        )
        assert result.returncode == 1, result.stderr
        assert result.stderr.startswith("sealbox: error: cannot write big.age: file too large")
        assert "Traceback" not in result.stderr
        assert sorted(p.name for p in tmp_path.iterdir()) == ["big"]


def _reaped(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _seal_with_processes(folder: Path, data: bytes, progress) -> None:
    src, dst = folder / "plain", folder / "sealed"
    src.write_bytes(data)
    with open(src, "rb", buffering=0) as fin, open(dst, "wb") as fout:
        writer = PayloadWriter(fout, KEY, nonce=NONCE, parallel=True)
        fout.flush()
        writer.seal_file(fin.fileno(), 0, fout.fileno(), NONCE_SIZE, progress, processes=True)


@pytest.mark.parametrize("error", [KeyboardInterrupt, ValueError])
def test_a_failure_in_the_parent_stops_the_child(tmp_path, forks, error):
    calls: list[int] = []

    def progress(n: int) -> None:
        calls.append(n)
        if len(calls) == 2:
            raise error("stop")

    with pytest.raises(error, match="stop"):
        _seal_with_processes(tmp_path, DATA[: 3 * BATCH + 1], progress)
    assert len(forks) == 1
    assert _reaped(forks[0])


def test_progress_counts_the_childs_batches_too(tmp_path, forks):
    calls: list[int] = []
    _seal_with_processes(tmp_path, DATA[: 3 * BATCH + 1], calls.append)
    assert calls == [BATCH, BATCH, BATCH, 1]  # in file order, all in the parent
    assert len(forks) == 1


def test_a_child_that_dies_is_reported(tmp_path, forks):
    def progress(_n: int) -> None:
        os.kill(forks[0], signal.SIGKILL)

    with pytest.raises(OSError, match="the second process ended unexpectedly"):
        _seal_with_processes(tmp_path, DATA[: 3 * BATCH + 1], progress)
    assert _reaped(forks[0])


def _dead(pid: int) -> bool:
    """Whether ``pid`` has ended (a zombie, not yet reaped: its pipes are closed)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        return stat.read().rpartition(")")[2].split()[0] == "Z"


def test_a_child_dead_before_the_parent_tells_it_of_a_batch_is_reported_as_such(tmp_path, forks):
    # The parent's next message meets a closed pipe (EPIPE), not an end of file.
    def progress(_n: int) -> None:
        os.kill(forks[0], signal.SIGKILL)
        deadline = time.monotonic() + 10
        while not _dead(forks[0]) and time.monotonic() < deadline:
            time.sleep(0.001)

    with pytest.raises(OSError, match="the second process ended unexpectedly"):
        _seal_with_processes(tmp_path, DATA[: 3 * BATCH + 1], progress)
    assert _reaped(forks[0])


def test_forking_needs_linux_and_no_other_thread():
    done = threading.Event()
    thread = threading.Thread(target=done.wait)
    thread.start()
    try:
        assert not _positional._can_fork()
    finally:
        done.set()
        thread.join()


def test_a_failed_fork_falls_back_to_threads(tmp_path, monkeypatch):
    def no_fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")  # EAGAIN: too many

    monkeypatch.setattr(_positional, "_can_fork", lambda: True)
    monkeypatch.setattr(_positional.os, "fork", no_fork)
    open_fds = len(os.listdir("/proc/self/fd"))
    seen: list[str] = []

    def progress(_n: int) -> None:
        seen.append(threading.current_thread().name)

    _seal_with_processes(tmp_path, DATA[: 3 * BATCH + 1], progress)
    assert (tmp_path / "sealed").read_bytes() == _stream_seal(DATA[: 3 * BATCH + 1])
    assert "sealbox-age-positional" in seen  # the second worker was a thread
    assert len(os.listdir("/proc/self/fd")) == open_fds  # the pipes were closed
