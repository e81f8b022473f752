"""The temporary files of atomic writes: named after their writer, locked, cleaned up.

A writer's temporary file is named ``.NAME.PID.RANDOM.tmp`` after its process id, and
its writer holds an ``flock`` on it until it is renamed. A writer that dies (SIGKILL, a
power cut) leaves it behind; :func:`remove_stale_temporaries` removes the ones whose
process no longer runs here and whose lock nobody holds (a writer on another machine
sharing the folder holds its lock). A process id is reused (every ``docker run`` of a
container is process 1): the random part of the name begins with a mark drawn once per
process, so a temporary file of this process's id but another mark is a dead writer's.
The writes themselves are in
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
            if pid is None:
                continue
            if pid == os.getpid():
                if _written_here(entry.name):
                    continue
            elif _running(pid):
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


def _written_here(name: str) -> bool:
    """Whether a temporary file of this process's id is this process's (its mark), not a
    dead writer's that had the same id."""
    return name[:-4].rsplit(".", 1)[1].startswith(_process_mark)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


_RANDOM_HEX: Final = 12
# The first hex digits of the random part: this process's mark, the same in every
# temporary file it names (a forked child draws its own).
_process_mark = os.urandom(2).hex()


def _new_mark() -> None:
    global _process_mark  # noqa: PLW0603 - one per process
    _process_mark = os.urandom(2).hex()


os.register_at_fork(after_in_child=_new_mark)


def _temporary_name(folder: str, name: str) -> str:
    random = _process_mark + os.urandom((_RANDOM_HEX - len(_process_mark)) // 2).hex()
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
