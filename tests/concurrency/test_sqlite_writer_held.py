"""A writer of the SQLite accounts database stopped (SIGSTOP) while it holds the write lock.

The others wait, as they wait for a file's lock, then give up with the same error: the
database named, the seconds waited, and SEALBOX_LOCK_TIMEOUT as the way to wait longer.
Nothing they were asked to change is half done.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._race import clean_env, race
from tests.conftest import run_sealbox

PASSWORD = b"correct horse battery staple\n"
# Cheap password hashes (for `users create`): the passwords are not what is tested here.
CHEAP = {"SEALBOX_PASSWORD_PROFILE": "test"}

# Takes SQLite's write lock on the file, says so, and stops itself holding it.
_HOLD_AND_STOP = """
import os, signal, sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
sys.stdout.write("held\\n"); sys.stdout.flush()
os.kill(os.getpid(), signal.SIGSTOP)
"""


@pytest.fixture
def stopped_writer(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    """A data folder whose database a stopped process holds locked for writing."""
    data = tmp_path / "data"
    r = run_sealbox(["users", "create", "alice", "--data-dir", data], input=PASSWORD, env=CHEAP)
    assert r.returncode == 0, r.stderr
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_AND_STOP, str(data / "sealbox.db")],
        stdout=subprocess.PIPE,
        env=clean_env(),
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        yield data, holder
    finally:
        if holder.poll() is None:
            os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()


def test_writers_of_a_database_held_by_a_stopped_process_give_up_with_a_lock_timeout(
    stopped_writer: tuple[Path, subprocess.Popen[bytes]],
) -> None:
    data, _holder = stopped_writer
    db = data / "sealbox.db"
    writers = (
        (["users", "grant", "alice", "app:read"], b""),
        (["users", "create", "bob"], PASSWORD),
        (["clients", "create", "bot"], b""),
    )
    # All at once: each waits for the stopped one, none for another.
    results = race(
        [[*args, "--data-dir", data] for args, _ in writers],
        inputs=[stdin for _, stdin in writers],
        env={**CHEAP, "SEALBOX_LOCK_TIMEOUT": "1"},
    )
    for (args, _), r in zip(writers, results, strict=True):
        assert r.code == 1, (args, r.err)
        error, hint = r.err.splitlines()
        assert (
            error
            == f"sealbox: error: gave up after 1 s waiting for another writer of {db} to finish"
        )
        assert hint.startswith("sealbox: hint: ") and "SEALBOX_LOCK_TIMEOUT" in hint


def test_a_stopped_writer_killed_leaves_the_database_whole_and_the_next_writer_goes_ahead(
    stopped_writer: tuple[Path, subprocess.Popen[bytes]],
) -> None:
    data, holder = stopped_writer
    r = run_sealbox(
        ["users", "grant", "alice", "app:read", "--data-dir", data],
        env={"SEALBOX_LOCK_TIMEOUT": "1"},
    )
    assert r.returncode == 1
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    r = run_sealbox(["users", "grant", "alice", "app:write", "--data-dir", data])
    assert r.returncode == 0, r.stderr
    show = run_sealbox(["users", "show", "alice", "--data-dir", data])
    assert show.returncode == 0
    scopes = next(line for line in show.stdout.decode().splitlines() if line.startswith("scopes:"))
    assert scopes.split()[1:] == ["app:write", "users:me"]  # the refused grant made nothing
