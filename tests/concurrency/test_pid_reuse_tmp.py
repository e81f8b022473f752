"""A writer killed mid-write leaves a temporary file; the next writer with the same process
id (every ``docker run`` of a container is process 1) removes it too."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sealbox._util.files import atomic_write
from sealbox._util.temporaries import _temporary_name
from tests._race import clean_env

PASS = {"SEALBOX_PASSPHRASE": "pid reuse passphrase"}

# Process 1 of a process namespace of its own: starts rewriting FILE and dies with half
# of it written, cleaning nothing up. (Process 1 cannot SIGKILL itself; _exit is as abrupt.)
_KILLED_AS_PROCESS_ONE = """
import os, sys
from sealbox._util.files import atomic_writer
assert os.getpid() == 1
with atomic_writer(sys.argv[1]) as fh:
    fh.write(b"half of a new version")
    fh.flush()
    os._exit(137)
"""


def _as_process_one(*command: str) -> subprocess.CompletedProcess[bytes]:
    """Run ``command`` as process 1 of a new process namespace (a container's first run)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("needs unshare(1) for a process namespace")
    ns = ["-p", "-f"] if os.geteuid() == 0 else ["-r", "-p", "-f"]
    return subprocess.run(
        [unshare, *ns, *command], capture_output=True, env=clean_env(PASS), timeout=120, check=False
    )


def _temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_a_writer_with_the_process_id_of_a_killed_one_removes_its_temporary_file(
    tmp_path: Path,
) -> None:
    if _as_process_one("true").returncode != 0:
        pytest.skip("this user cannot make a process namespace")
    keyring = tmp_path / "app.keyring"
    made = _as_process_one(sys.executable, "-m", "sealbox", "keyring", "create", str(keyring))
    assert made.returncode == 0, made.stderr
    killed = _as_process_one(sys.executable, "-c", _KILLED_AS_PROCESS_ONE, str(keyring))
    assert killed.returncode == 137, killed.stderr
    (left,) = _temporaries(tmp_path)
    assert left.startswith(".app.keyring.1.")
    rotated = _as_process_one(sys.executable, "-m", "sealbox", "keyring", "rotate", str(keyring))
    assert rotated.returncode == 0, rotated.stderr
    assert _temporaries(tmp_path) == []


def test_a_temporary_file_of_this_process_id_but_another_process_is_removed(
    tmp_path: Path,
) -> None:
    mine = Path(_temporary_name(str(tmp_path), "app.keyring"))
    mark = mine.name.split(".")[-2][:4]
    other = "0000" if mark != "0000" else "ffff"
    dead = mine.with_name(mine.name.replace(f".{mark}", f".{other}", 1))
    for path in (mine, dead):
        path.write_bytes(b"partial")
    atomic_write(tmp_path / "other.bin", b"x")
    # This process's own is one of its writers' at work (held, or not yet locked): kept.
    assert _temporaries(tmp_path) == [mine.name]
