"""sealbox._util.locks and the temporary files of sealbox._util.temporaries: who may lock, who cleans up what."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sealbox._util.files import atomic_write, atomic_writer
from sealbox._util.locks import lock_path, locked
from sealbox._util.temporaries import (
    _create_temporary,
    _remove_unlocked,
    remove_stale_temporaries,
)
from sealbox.exceptions import LockTimeoutError, StorageError

NOBODY = 65534  # uid and gid of nobody / nogroup on Debian


def test_a_thread_that_holds_a_lock_takes_it_again_at_once(tmp_path: Path) -> None:
    target = tmp_path / "pair.crt"
    with locked(target, timeout=0.2), locked(target, timeout=0.2), locked(target, timeout=0.2):
        pass
    # And it was released: another thread gets it now.
    got: list[bool] = []
    thread = threading.Thread(target=lambda: got.append(_try_lock(target)))
    thread.start()
    thread.join()
    assert got == [True]


def test_another_thread_of_the_same_process_waits_for_the_lock(tmp_path: Path) -> None:
    target = tmp_path / "app.keyring"
    outcome: list[bool] = []
    with locked(target):
        thread = threading.Thread(target=lambda: outcome.append(_try_lock(target)))
        thread.start()
        thread.join()
    assert outcome == [False]  # it gave up: the lock was held all along


def _try_lock(target: Path) -> bool:
    try:
        with locked(target, timeout=0.2):
            return True
    except LockTimeoutError:
        return False


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder every user can write, for checks made as another user (root only)."""
    if os.geteuid() != 0:
        pytest.skip("acting as another user needs root")
    folder = Path(tempfile.mkdtemp(prefix="sealbox-shared-"))
    folder.chmod(0o777)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _as_nobody(work: Callable[[], None]) -> None:
    """Run ``work`` in a forked child that is user nobody, group nogroup; re-raise its failure."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        os.close(read)
        code = 0
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            work()
        except BaseException:  # noqa: BLE001 - everything goes back to the parent
            os.write(write, traceback.format_exc().encode())
            code = 1
        os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as fh:
        report = fh.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, report


def test_a_user_who_may_write_the_file_may_take_its_lock(shared_folder: Path) -> None:
    shared = shared_folder / "secrets.env"
    shared.write_bytes(b"shared with a group\n")
    os.chown(shared, 0, NOBODY)
    shared.chmod(0o660)
    with locked(shared):  # the owner's lock makes the lock file
        pass
    sidecar = Path(lock_path(shared))
    assert stat.S_IMODE(sidecar.stat().st_mode) == 0o640
    assert sidecar.stat().st_gid == NOBODY

    def lock_as_group_member() -> None:
        with locked(shared, timeout=1):
            pass

    _as_nobody(lock_as_group_member)


def test_a_user_who_may_not_write_the_file_cannot_take_its_lock(shared_folder: Path) -> None:
    private = shared_folder / "app.keyring"
    private.write_bytes(b"only root\n")
    private.chmod(0o600)
    with locked(private):
        pass
    assert stat.S_IMODE(Path(lock_path(private)).stat().st_mode) == 0o600

    def lock_as_stranger() -> None:
        refused = pytest.raises(
            StorageError, match=r"cannot lock .*app\.keyring: permission denied"
        )
        with refused, locked(private, timeout=1):
            pass

    _as_nobody(lock_as_stranger)


def test_a_folder_the_user_may_not_write_is_named_as_the_reason_no_lock_is_taken(
    shared_folder: Path,
) -> None:
    # The file is the user's own, its folder is not writable: the lock file cannot be
    # made. This used to say "no such file or directory", naming the missing lock file.
    folder = shared_folder / "config"
    folder.mkdir(mode=0o755)
    keyset = folder / "signing.keyset"
    keyset.write_bytes(b"nobody's own file\n")
    os.chown(keyset, NOBODY, NOBODY)

    def lock_in_read_only_folder() -> None:
        with pytest.raises(StorageError, match=r"permission denied") as caught, locked(keyset):
            pass
        assert "no such file" not in str(caught.value)
        assert f"cannot create files in {folder}" in (caught.value.hint or "")

    _as_nobody(lock_in_read_only_folder)
    assert not Path(lock_path(keyset)).exists()


def test_a_missing_folder_is_named_when_no_lock_can_be_taken(tmp_path: Path) -> None:
    missing = pytest.raises(StorageError, match=r"folder .*missing does not exist")
    with missing, locked(tmp_path / "missing" / "signing.keyset"):
        pass


def test_a_lock_file_follows_a_file_shared_later(shared_folder: Path) -> None:
    target = shared_folder / "secrets.env"
    target.write_bytes(b"v\n")
    target.chmod(0o600)
    with locked(target):
        pass
    os.chown(target, 0, NOBODY)
    target.chmod(0o660)  # shared with the group afterwards
    with locked(target):  # the owner's next write
        pass
    sidecar = Path(lock_path(target))
    assert (stat.S_IMODE(sidecar.stat().st_mode), sidecar.stat().st_gid) == (0o640, NOBODY)


def test_a_rewrite_that_cannot_keep_the_group_gives_that_group_no_more_than_others(
    shared_folder: Path,
) -> None:
    target = shared_folder / "notes.env"
    target.write_bytes(b"old\n")
    os.chown(target, NOBODY, 0)  # group root: nobody is not a member and cannot keep it
    target.chmod(0o664)

    # A file that may be public (a secrets file, a ciphertext): its rights for others stay.
    _as_nobody(lambda: atomic_write(target, b"new\n", mode=0o644))

    st = target.stat()
    assert target.read_bytes() == b"new\n"
    assert (st.st_uid, st.st_gid) == (NOBODY, NOBODY)
    assert stat.S_IMODE(st.st_mode) == 0o644  # not 0664: nogroup gets what others get


def test_a_rewrite_keeps_mode_owner_and_group(tmp_path: Path) -> None:
    target = tmp_path / "ca.key"
    target.write_bytes(b"old\n")
    os.chown(target, 1234, 4321)
    target.chmod(0o640)
    atomic_write(target, b"new\n")
    st = target.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1234, 4321, 0o640)


@pytest.mark.parametrize(("found", "left"), [(0o644, 0o640), (0o666, 0o660), (0o604, 0o600)])
def test_a_private_write_over_a_file_others_could_read_leaves_them_nothing(
    tmp_path: Path, found: int, left: int
) -> None:
    # `--force` over a world-readable file must not make a world-readable private key;
    # the group the file was shared with keeps its rights.
    target = tmp_path / "id"
    target.write_bytes(b"old\n")
    target.chmod(found)
    atomic_write(target, b"private\n", mode=0o600)
    assert stat.S_IMODE(target.stat().st_mode) == left
    atomic_write(target, b"public\n", mode=0o644)  # a public file keeps what it found
    assert stat.S_IMODE(target.stat().st_mode) == left


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_the_next_writer_removes_temporaries_of_dead_writers_only(tmp_path: Path) -> None:
    dead, alive = _dead_pid(), os.getppid()
    stale = tmp_path / f".app.keyring.{dead}.0123456789ab.tmp"
    live = tmp_path / f".app.keyring.{alive}.0123456789ab.tmp"
    unrelated = tmp_path / f".notes.{dead}.tmp"
    for path in (stale, live, unrelated):
        path.write_bytes(b"partial")
    atomic_write(tmp_path / "other.bin", b"x")
    assert not stale.exists()
    assert live.exists() and unrelated.exists()


_HOLD_LOCK = (
    "import fcntl, sys, time\n"
    "fh = open(sys.argv[1], 'rb'); fcntl.flock(fh, fcntl.LOCK_EX)\n"
    "print('held', flush=True); time.sleep(60)\n"
)


def test_a_temporary_whose_writer_holds_its_lock_is_kept(tmp_path: Path) -> None:
    # A writer on another machine sharing the folder: its process id means nothing
    # here, but it holds the lock on its temporary file.
    elsewhere = tmp_path / f".app.keyring.{_dead_pid()}.0123456789ab.tmp"
    elsewhere.write_bytes(b"being written")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _HOLD_LOCK,
            str(elsewhere),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"held\n"
        assert remove_stale_temporaries(str(tmp_path)) == 0
        assert elsewhere.exists()
    finally:
        holder.kill()
        holder.communicate()
    assert remove_stale_temporaries(str(tmp_path)) == 1
    assert not elsewhere.exists()


def test_a_writer_holds_its_temporary_locked_until_the_rename(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with atomic_writer(target) as fh:
        fh.write(b"data")
        (tmp,) = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        assert _remove_unlocked(str(tmp)) is False
        assert tmp.exists()
    assert target.read_bytes() == b"data"
    fd, name = _create_temporary(str(tmp_path), "raw")
    assert _remove_unlocked(name) is False  # locked from its creation
    os.close(fd)
    assert _remove_unlocked(name) is True
