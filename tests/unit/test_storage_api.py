"""sealbox.storage: the public way to write files as sealbox does."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import sealbox.storage as storage
from sealbox.exceptions import StorageError


def test_every_public_name_loads_and_says_what_it_does() -> None:
    assert storage.__all__ == sorted(storage.__all__, key=str.lower)
    for name in storage.__all__:
        value = getattr(storage, name)
        assert value.__doc__, name
    assert set(dir(storage)) >= set(storage.__all__)


def test_importing_the_package_loads_no_helper_until_a_name_is_used() -> None:
    code = (
        "import sys, sealbox.storage\n"
        "before = 'sealbox._util.files' in sys.modules\n"
        "from sealbox.storage import atomic_writer\n"
        "print(before, 'sealbox._util.files' in sys.modules, 'sealbox._util.locks' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    ).stdout.split()
    assert out == ["False", "True", "False"]


def test_an_atomic_write_refuses_an_existing_file_unless_told(tmp_path: Path) -> None:
    target = tmp_path / "out"
    storage.atomic_write(target, b"first", mode=0o640)
    assert target.stat().st_mode & 0o777 == 0o640
    with pytest.raises(StorageError) as info:
        storage.atomic_write(target, b"second", overwrite=False)
    assert info.value.code == "file_exists"
    storage.atomic_write(target, b"second")
    assert target.read_bytes() == b"second"
    assert target.stat().st_mode & 0o777 == 0o640  # a rewrite keeps the mode
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_failed_block_leaves_the_target_as_it_was(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.write_bytes(b"kept")
    with pytest.raises(RuntimeError), storage.atomic_writer(target) as fh:
        fh.write(b"half")
        raise RuntimeError
    assert target.read_bytes() == b"kept"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_read_limited_refuses_a_file_over_its_limit(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 11)
    assert storage.read_limited(path, 11) == b"x" * 11
    with pytest.raises(StorageError, match="larger than 10 bytes"):
        storage.read_limited(path, 10)


def test_is_special_tells_a_device_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    assert storage.is_special("/dev/null")
    assert not storage.is_special(tmp_path / "f")
    assert not storage.is_special(tmp_path / "missing")


def test_a_waiting_writer_tells_through_the_notice_it_was_given(tmp_path: Path) -> None:
    target = tmp_path / "f"
    told: list[str] = []
    storage.set_wait_notice(told.append)
    release = threading.Event()
    holding = threading.Event()

    def hold() -> None:
        with storage.locked(target):
            holding.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        holding.wait(5)
        timer = threading.Timer(1.3, release.set)
        timer.start()
        with storage.locked(target, timeout=5):
            pass
    finally:
        release.set()
        holder.join()
        from sealbox._util import locks

        storage.set_wait_notice(locks._log_notice)
    assert told == [str(target)]


def test_aligned_writer_cuts_writes_at_piece_boundaries() -> None:
    sizes: list[int] = []

    class Sink:
        def write(self, data: memoryview) -> int:
            sizes.append(len(data))
            return len(data)

    writer = storage.AlignedWriter(Sink(), position=100)
    assert writer.write(b"x" * 70_000) == 70_000
    assert sum(sizes) == 70_000
    assert sizes[0] == 32 * 1024 - 100
