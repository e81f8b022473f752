"""First starts racing on a new data folder on a full disk: each ends in a clear error, and
the folder is left whole or not at all.

A start that fails removes the folder it made, lock files and all, while the others may
be waiting for its lock or looking at its database: they start over on a folder of their
own, and fail for their own reason (the full disk), said as such.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests._race import race
from tests.conftest import fill, run_sealbox

WRITERS = 8


# Room for the database's first pages only; for the database, not for the keys.
@pytest.mark.parametrize("room_kib", [16, 200])
def test_first_starts_racing_on_a_full_disk_each_say_why_and_leave_no_half_made_folder(
    small_fs: Path, room_kib: int
) -> None:
    data = small_fs / "data"
    filler = small_fs / "filler"
    fill(filler)
    os.truncate(filler, filler.stat().st_size - room_kib * 1024)
    commands = [["serve", "--data-dir", data, "--check"]] * (WRITERS - 2)
    commands += [["serve", "--data-dir", data, "--port", "0"]] * 2
    for _ in range(2):  # two rounds: the second finds what the first left, or nothing
        results = race(commands)
        for command, r in zip(commands, results, strict=True):
            lines = r.err.splitlines()
            assert r.code == 1, r.err
            assert "Traceback" not in r.err
            assert all(line.startswith("sealbox: ") for line in lines), r.err
            assert len([line for line in lines if line.startswith("sealbox: error: ")]) == 1
            # Its own failure, not the vanishing of a folder another start removed. A
            # serving start may also find the other one holding a folder a --check made
            # (no Redis: one service per folder), which is true when it is said.
            # (The holder is named: "another sealbox service (process N) serves …".)
            claimed = "--check" not in command and re.search(
                r"another sealbox service (\(process \d+\) )?serves ", r.err
            )
            assert "no space left on device" in r.err or "disk" in r.err or claimed, r.err
            assert "no such file or directory" not in r.err
        assert not data.exists(), sorted(p.name for p in data.iterdir())
    filler.unlink()
    r = run_sealbox(["serve", "--data-dir", data, "--check"])
    assert r.returncode == 0, r.stderr


def test_a_failing_start_removes_a_first_starts_folder_that_another_failed_start_left_full(
    small_fs: Path,
) -> None:
    # What racing first starts may leave: a folder still marked as a first start's (no
    # start finished in it), holding a database another start made before it failed.
    # A start that then failed too kept it, because it held more than lock files.
    data = small_fs / "data"
    assert run_sealbox(["serve", "--data-dir", data, "--check"]).returncode == 0
    for path in data.iterdir():  # all but the database and the lock files
        if not path.name.startswith("sealbox.db") and not path.name.endswith(".lock"):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    (data / ".first-start").touch()
    assert (data / "sealbox.db").stat().st_size > 0
    filler = small_fs / "filler"
    fill(filler)
    r = run_sealbox(["serve", "--data-dir", data, "--check"])
    err = r.stderr.decode()
    assert r.returncode == 1, err
    assert "no space left on device" in err or "disk" in err, err
    assert not data.exists(), sorted(p.name for p in data.iterdir())
    filler.unlink()
    r = run_sealbox(["serve", "--data-dir", data, "--check"])
    assert r.returncode == 0, r.stderr
