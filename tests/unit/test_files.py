"""sealbox._util.files: atomic writes and the aligned pieces bulk outputs are written in."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from sealbox._util.files import WRITE_PIECE, AlignedWriter, atomic_write, atomic_writer
from sealbox.exceptions import StorageError


class Recorder:
    """A sink that records every write it gets; it can accept less than it is given."""

    def __init__(self, accept: int | None = None, returns_none: bool = False) -> None:
        self.writes: list[bytes] = []
        self.accept = accept
        self.returns_none = returns_none

    def write(self, data: bytes | bytearray | memoryview) -> int | None:
        data = bytes(data)
        if self.accept is not None:
            data = data[: self.accept]
        self.writes.append(data)
        return None if self.returns_none else len(data)

    @property
    def data(self) -> bytes:
        return b"".join(self.writes)


@pytest.mark.parametrize("start", [0, 1, 216, WRITE_PIECE - 1, WRITE_PIECE, 5 * WRITE_PIECE + 7])
def test_pieces_end_on_multiples_of_the_piece_size(start: int):
    sink = Recorder()
    writer = AlignedWriter(sink, start)
    payload = os.urandom(3 * WRITE_PIECE + 1000)
    for part in (payload[:10], payload[10 : 2 * WRITE_PIECE + 3], payload[2 * WRITE_PIECE + 3 :]):
        assert writer.write(memoryview(part)) == len(part)
    assert sink.data == payload
    position = start
    for piece in sink.writes:
        assert 0 < len(piece) <= WRITE_PIECE
        # A piece never crosses a multiple of WRITE_PIECE in the file.
        assert position // WRITE_PIECE == (position + len(piece) - 1) // WRITE_PIECE
        position += len(piece)
    # Only the last piece of each write(), or a piece reaching a boundary, is short.
    ends = [start + len(b"".join(sink.writes[: i + 1])) for i in range(len(sink.writes))]
    boundaries = [e for e in ends if e % WRITE_PIECE == 0]
    assert len(boundaries) >= len(sink.writes) - 3


def test_short_writes_are_completed():
    sink = Recorder(accept=1000)
    payload = os.urandom(5000)
    assert AlignedWriter(sink).write(payload) == 5000
    assert sink.data == payload
    assert [len(w) for w in sink.writes] == [1000] * 5


def test_none_counts_as_a_complete_write():
    sink = Recorder(returns_none=True)
    AlignedWriter(sink).write(b"x" * (WRITE_PIECE + 1))
    assert sink.data == b"x" * (WRITE_PIECE + 1)


def test_an_output_that_takes_nothing_is_an_error():
    with pytest.raises(OSError, match="accepted no data"):
        AlignedWriter(Recorder(accept=0)).write(b"data")


def test_from_file_starts_at_the_file_offset(tmp_path: Path):
    with (tmp_path / "f").open("wb") as fh:
        fh.write(b"a" * 300)
        fh.flush()
        writer = AlignedWriter.from_file(fh)
        assert writer._position == 300
        writer.write(b"b" * WRITE_PIECE)
    assert (tmp_path / "f").read_bytes() == b"a" * 300 + b"b" * WRITE_PIECE


def test_from_file_on_a_pipe_starts_at_zero():
    r, w = os.pipe()
    try:
        with os.fdopen(w, "wb") as fh:
            writer = AlignedWriter.from_file(fh)
            assert writer._position == 0
            writer.write(b"through the pipe")
        assert os.read(r, 100) == b"through the pipe"
    finally:
        os.close(r)


def test_atomic_writer_temporary_file(tmp_path: Path):
    target = tmp_path / "out.bin"
    with atomic_writer(target, mode=0o640) as fh:
        fh.write(b"data")
        (tmp,) = list(tmp_path.iterdir())
        assert tmp.name.startswith(".out.bin.") and tmp.name.endswith(".tmp")
        assert stat.S_IMODE(tmp.stat().st_mode) == 0o640
        assert not target.exists()
    assert target.read_bytes() == b"data"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_atomic_writer_failure_leaves_the_target_alone(tmp_path: Path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_writer(target) as fh:
        fh.write(b"new")
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
    with (
        pytest.raises(StorageError, match="already exists"),
        atomic_writer(target, overwrite=False),
    ):
        pass
    with pytest.raises(StorageError, match="cannot write in"), atomic_writer(tmp_path / "no" / "f"):
        pass


def test_files_module_does_not_import_tempfile():
    code = "import sealbox._util.files, sys, json; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True)
    assert "tempfile" not in json.loads(out.stdout)


def _drain_fifo(path: Path) -> tuple[threading.Thread, list[bytes]]:
    got: list[bytes] = []

    def read() -> None:
        with path.open("rb") as fh:
            got.append(fh.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return reader, got


def test_a_fifo_is_written_into_not_replaced(tmp_path: Path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader, got = _drain_fifo(fifo)
    with atomic_writer(fifo, overwrite=False) as fh:  # nothing stored there to protect
        fh.write(b"through the pipe")
    reader.join(10)
    assert got == [b"through the pipe"]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]


def test_a_link_stays_and_its_file_is_replaced(tmp_path: Path):
    real = tmp_path / "real"
    real.write_bytes(b"old")
    link = tmp_path / "link"
    link.symlink_to(real)
    with atomic_writer(link) as fh:
        fh.write(b"new")
    assert link.is_symlink() and real.read_bytes() == b"new"


def test_age_outputs_to_a_fifo(tmp_path: Path, cli):
    from sealbox import age

    me = age.X25519Identity.generate()
    src = tmp_path / "p"
    src.write_bytes(os.urandom(100_000))
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader, got = _drain_fifo(fifo)
    age.encrypt_file(src, fifo, [me.recipient()])  # no overwrite needed
    reader.join(10)
    assert age.decrypt(got[0], [me]) == src.read_bytes()
    reader, got = _drain_fifo(fifo)
    r = cli(["encrypt", "-r", str(me.recipient()), "-o", fifo, src])  # no --force needed
    reader.join(10)
    assert r.code == 0, r.stderr
    assert age.decrypt(got[0], [me]) == src.read_bytes()
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p", "pipe"]


def test_a_write_into_a_missing_folder_says_why_in_the_words_of_every_other_message(
    tmp_path: Path,
) -> None:
    # The system's own words were quoted capitalised ("…: No such file or directory"),
    # unlike every other message after a colon.
    with pytest.raises(StorageError) as caught:
        atomic_write(tmp_path / "missing" / "out.bin", b"data")
    assert str(caught.value) == f"cannot write in {tmp_path / 'missing'}: no such file or directory"
