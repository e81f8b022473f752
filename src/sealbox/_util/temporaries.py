"""The temporary files of atomic writes: named after their writer, locked, cleaned up.

A writer's temporary file is named ``.NAME.PID.RANDOM.tmp`` after its process id, and
its writer holds an ``flock`` on it until it is renamed. A writer that dies (SIGKILL, a
power cut) leaves it behind; :func:`remove_stale_temporaries` removes the ones whose
process no longer runs here and whose lock nobody holds (a writer on another machine
sharing the folder holds its lock). The writes themselves are in
:mod:`sealbox._util.files`.

Paths are handled with :mod:`os.path`, not :mod:`pathlib`: this module is on the
start-up path of every ``sealbox encrypt`` and ``decrypt``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from typing import Final

__all__ = ["remove_stale_temporaries"]


def remove_stale_temporaries(folder: str) -> int:
    """Remove the temporary files sealbox writers left in ``folder`` when they died.

    Only files named as :func:`~sealbox._util.files.atomic_writer` names them whose
    process id no longer runs on this machine are removed. Returns how many were.
    """
    removed = 0
    try:
        entries = os.scandir(folder)
    except OSError:
        return 0
    with entries:
        for entry in entries:
            pid = _temporary_owner(entry.name)
            if pid is None or pid == os.getpid() or _running(pid):
                continue
            removed += _remove_unlocked(entry.path)
    return removed


def _remove_unlocked(path: str) -> bool:
    """Remove a temporary file unless its writer, on any machine, still holds its lock."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return False  # gone meanwhile, another user's, or not a plain file
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError:
            pass  # a file system without locks: the process id alone decides
        try:
            os.unlink(path)
        except OSError:
            return False
        return True
    finally:
        os.close(fd)


def _hold(fd: int) -> None:
    """Lock a temporary file for as long as its writer keeps it open."""
    with contextlib.suppress(OSError):  # a file system without locks
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _temporary_owner(name: str) -> int | None:
    """The process id in ``.NAME.PID.RANDOM.tmp``, or ``None`` for any other name."""
    if not (name.startswith(".") and name.endswith(".tmp")):
        return None
    parts = name[:-4].rsplit(".", 2)
    if len(parts) != 3 or len(parts[2]) != _RANDOM_HEX or not parts[1].isdigit():
        return None
    try:
        int(parts[2], 16)
    except ValueError:
        return None
    return int(parts[1])


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


_RANDOM_HEX: Final = 12


def _temporary_name(folder: str, name: str) -> str:
    random = os.urandom(_RANDOM_HEX // 2).hex()
    return os.path.join(folder, f".{name}.{os.getpid()}.{random}.tmp")


def _create_temporary(folder: str, name: str) -> tuple[int, str]:
    """Create ``folder/.name.<pid>.<random>.tmp`` (mode 0600, never an existing file or link).

    What ``tempfile.mkstemp`` does, without the cost of importing ``tempfile``
    (and ``random``, ``shutil``) on every command-line run.
    """
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = _temporary_name(folder, name)
        try:
            fd = os.open(tmp, flags, 0o600)
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
        _hold(fd)
        return fd, tmp
    raise FileExistsError(  # pragma: no cover
        errno.EEXIST, "no unused temporary file name", str(folder)
    )
