"""Exclusive locks for read-modify-write of the files sealbox owns.

A writer locks ``FOLDER/.NAME.lock`` (a sidecar beside the file, never deleted:
removing a lock file while another process waits on it would let two writers in)
with ``flock``, from the moment it reads the file until the new version has been
renamed into place. Readers take no lock: a rename is atomic, so they see the old
file or the new one.

The lock file holds nothing. It is mode 0600, except that the group and others may
read it where they may write the file itself (a secrets file shared by a group at
0660): ``flock`` needs only a descriptor open for reading, so every user who may
change the file can take its lock, and nobody else can.

The lock belongs to the open file description, so it is released when the writer
closes it or dies, however it dies: a killed writer never leaves a stuck lock.
Threads of one process take the lock in turn as well (each acquisition opens the
lock file anew). A thread that already holds a file's lock takes it again at once
(a writer that holds a certificate's lock while it reads the pair, then writes the
pair through a function that locks it too).

Waiting is polled: after :data:`NOTICE_AFTER` seconds the writer tells why it
waits (through :func:`set_wait_notice`; by default a warning on the
``sealbox.files`` logger), and after the timeout (``SEALBOX_LOCK_TIMEOUT``, default
:data:`DEFAULT_TIMEOUT` seconds) it gives up with :class:`LockTimeoutError`.

``flock`` locks work between processes of one machine, and on NFS since Linux
2.6.12 (emulated with POSIX locks); they do not protect a file shared through a
synchronising service (Dropbox, a Git checkout on two machines).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from typing import Final

from sealbox._util.files import os_reason
from sealbox.exceptions import ConfigError, LockTimeoutError, StorageError

__all__ = [
    "DEFAULT_TIMEOUT",
    "NOTICE_AFTER",
    "TIMEOUT_ENV",
    "lock_path",
    "lock_timeout",
    "locked",
    "locked_folder",
    "set_wait_notice",
]

DEFAULT_TIMEOUT: Final = 60.0
NOTICE_AFTER: Final = 1.0
TIMEOUT_ENV: Final = "SEALBOX_LOCK_TIMEOUT"
_POLL: Final = 0.02

# The sidecars this thread holds: taking one of them again is free.
_held = threading.local()


def _log_notice(path: str) -> None:
    import logging

    logging.getLogger("sealbox.files").warning("waiting for another writer of %s to finish", path)


_notice: Callable[[str], None] = _log_notice


def set_wait_notice(notice: Callable[[str], None]) -> None:
    """Say how a writer tells that it waits for a lock (the command line prints a note)."""
    global _notice  # noqa: PLW0603 - one process-wide setting, made by the program
    _notice = notice


def lock_path(path: str | os.PathLike[str]) -> str:
    """The sidecar lock file of ``path``."""
    target = os.path.realpath(os.fspath(path))
    folder, name = os.path.split(target)
    return os.path.join(folder, f".{name}.lock")


def lock_timeout(default: float = DEFAULT_TIMEOUT) -> float:
    """The seconds a writer waits for another (``SEALBOX_LOCK_TIMEOUT``, else ``default``).

    Raises:
        ConfigError: ``SEALBOX_LOCK_TIMEOUT`` is not a number of seconds from 0 to 86400.
    """
    return _timeout(None, default)


def _timeout(timeout: float | None, default: float = DEFAULT_TIMEOUT) -> float:
    if timeout is not None:
        return timeout
    raw = os.environ.get(TIMEOUT_ENV)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 86_400:
        raise ConfigError(f"{TIMEOUT_ENV} must be a number of seconds from 0 to 86400")
    return value


@contextlib.contextmanager
def locked(path: str | os.PathLike[str], *, timeout: float | None = None) -> Iterator[None]:
    """Hold the exclusive lock of ``path`` for the block.

    Raises:
        LockTimeoutError: another writer held it for longer than ``timeout``
            seconds (``SEALBOX_LOCK_TIMEOUT``, else :data:`DEFAULT_TIMEOUT`).
        StorageError: the lock file cannot be created (a read-only folder).
    """
    limit = _timeout(timeout)
    sidecar = lock_path(path)
    held: set[str] = _held.__dict__.setdefault("sidecars", set())
    if sidecar in held:
        yield
        return
    fd = _open_sidecar(sidecar, os.fspath(path))
    try:
        _acquire(fd, os.fspath(path), limit)
        held.add(sidecar)
        try:
            yield
        finally:
            held.discard(sidecar)
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def locked_folder(
    folder: str | os.PathLike[str], *, what: str | None = None, timeout: float | None = None
) -> Iterator[None]:
    """Hold the exclusive lock of ``folder`` itself (``flock`` on the folder) for the block.

    For a writer that must leave nothing behind in a folder that is not sealbox's (a key
    pair in ``~/.ssh``): no lock file is created. It excludes only other holders of the
    same folder's lock, not the sidecar locks of :func:`locked`. ``what`` is the file
    named when waiting or giving up (default: the folder).

    Raises:
        LockTimeoutError: another writer held it for longer than ``timeout`` seconds.
        OSError: the folder cannot be opened for reading, or its file system does not
            lock folders (NFS emulates ``flock`` with POSIX locks, which need a file open
            for writing): the caller locks a sidecar with :func:`locked` instead.
    """
    limit = _timeout(timeout)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _acquire(fd, what or os.fspath(folder), limit)
        yield
    finally:
        os.close(fd)  # releases the lock


def _open_sidecar(sidecar: str, path: str) -> int:
    """Open (or create) the lock file; a user who may only read it opens it read-only."""
    flags = os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    hint = "every user who writes the file must be able to read its lock file"
    for access in (os.O_RDWR | os.O_CREAT, os.O_RDONLY):
        try:
            fd = os.open(sidecar, flags | access, 0o600)
        except PermissionError:
            continue
        except FileNotFoundError:
            if access == os.O_RDONLY:
                # Creating it was refused and there is none: the folder is not writable.
                folder = os.path.dirname(sidecar)
                raise StorageError(
                    f"cannot lock {path}: permission denied ({sidecar})",
                    hint=f"this user cannot create files in {folder}: a writer puts its "
                    "lock file and the new version beside the file",
                ) from None
            folder = os.path.dirname(sidecar)
            raise StorageError(
                f"cannot lock {path}: folder {folder} does not exist",
                hint="create the folder first, or write the file elsewhere",
                code="folder_missing",
                facts={"path": path, "folder": folder},
            ) from None
        except OSError as exc:
            read_only = exc.errno == errno.EROFS
            raise StorageError(
                f"cannot lock {path}: {os_reason(exc)} ({sidecar})",
                hint=f"the file system that holds {os.path.dirname(sidecar)} is mounted "
                "read-only: a writer puts its lock file and the new version beside the file"
                if read_only
                else None,
            ) from None
        _share_with_writers(fd, path)
        return fd
    raise StorageError(f"cannot lock {path}: permission denied ({sidecar})", hint=hint)


def _share_with_writers(fd: int, path: str) -> None:
    """Let whoever may write ``path`` open its lock file (for reading: enough to lock).

    Done by the lock file's owner at every lock, so a file shared later (``chmod
    g+w``) has its lock file follow at the owner's next write.
    """
    try:
        own = os.fstat(fd)
    except OSError:
        return
    if own.st_uid != os.geteuid() and os.geteuid() != 0:
        return
    try:
        st = os.stat(path)
    except OSError:
        # A file not written yet: the lock file is at least its owner's to open for
        # writing (under umask 0277 it would be made 0400).
        if own.st_mode & 0o600 != 0o600:
            with contextlib.suppress(OSError):
                os.fchmod(fd, stat.S_IMODE(own.st_mode) | 0o600)
        return
    readable = (st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)) << 1
    regroup = bool(readable & stat.S_IRGRP) and own.st_gid != st.st_gid
    if stat.S_IMODE(own.st_mode) == 0o600 | readable and not regroup:
        return
    with contextlib.suppress(OSError):
        if regroup:
            os.fchown(fd, -1, st.st_gid)
        os.fchmod(fd, 0o600 | readable)


def _acquire(fd: int, path: str, limit: float) -> None:
    start = time.monotonic()
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            waited = time.monotonic() - start
            if waited >= limit:
                raise LockTimeoutError(path, limit) from None
            if not told and waited >= NOTICE_AFTER:
                told = True
                _notice(path)
            time.sleep(_POLL)
        else:
            return
