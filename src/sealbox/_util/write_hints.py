"""What to do about a write the operating system refused, in words for a person.

Imported by :func:`sealbox._util.files.write_failed` on a failure only: the writers are on
the start-up path of every command.
"""

from __future__ import annotations

import errno
from pathlib import Path

__all__ = ["write_hint"]


def write_hint(exc: OSError, path: str) -> str | None:
    """What to do about a write that failed for a reason outside sealbox (none for a full
    disk: its code ``disk_full`` gets the caller's hint)."""
    where = Path(path)
    folder = str(where if where.is_dir() else where.parent)
    if exc.errno == errno.EFBIG:
        # A file system's own limit (FAT32: 4 GiB), or the process's (RLIMIT_FSIZE).
        return (
            f"the file system that holds {folder} takes no file this large (FAT32 stops "
            "at 4 GiB), or a file size limit applies ('ulimit -f'): write it to another "
            "file system"
        )
    if exc.errno == errno.EROFS:
        return (
            f"the file system that holds {folder} is mounted read-only: write to another "
            "folder, or mount it read-write"
        )
    if exc.errno in {errno.EACCES, errno.EPERM}:
        # The new version is created beside the target: the folder must be writable.
        return (
            f"this user may not create files in {folder}: a file is written as a new "
            "file beside it, then renamed over it"
        )
    return None
