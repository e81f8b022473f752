"""Several processes appending long audit records to a file system that fills up and gets
room back while they write: every line of the log stays one whole record."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests._race import clean_env

# Tries 5000 records of 0.5 to 6.5 KiB (more than a page, more than PIPE_BUF); prints how
# many the log took.
_WRITER = """
import sys
from pathlib import Path
from sealbox.accounts.audit import AuditLog, AuditUnavailableError
log = AuditLog(Path(sys.argv[1]), rotation_check=60)
tag, taken = sys.argv[2], 0
for i in range(5000):
    try:
        log.record("login", outcome="success", user=f"{tag}-{i}-" + "u" * (500 + i * 373 % 6000))
        taken += 1
    except AuditUnavailableError:
        pass
print(taken)
"""


def _take_the_room(path: Path) -> None:
    with path.open("wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError:
            pass


def test_a_record_cut_short_by_a_full_disk_never_glues_to_or_erases_another(
    small_fs: Path,
) -> None:
    audit = small_fs / "audit.log"
    filler = small_fs / "filler"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(audit), f"w{n}"],
            stdout=subprocess.PIPE,
            env=clean_env(),
        )
        for n in range(6)
    ]
    # The disk fills up (the log itself, then the filler) and gets room back, over and
    # over: a record cut short by the full disk meets other writers getting room again.
    while any(w.poll() is None for w in writers):
        _take_the_room(filler)
        filler.unlink()
    taken = sum(int(w.communicate()[0]) for w in writers)
    assert all(w.returncode == 0 for w in writers)
    lines = audit.read_bytes().split(b"\n")
    assert lines.pop() == b""  # the log ends with a whole line
    records = [json.loads(line) for line in lines]
    # Every record a writer was told it wrote is there, and nothing else.
    assert len(records) == taken
    assert len({r["user"] for r in records}) == taken
    assert os.stat(audit).st_size == sum(len(line) + 1 for line in lines)
