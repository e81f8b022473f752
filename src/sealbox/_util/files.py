"""Atomic file writes: a temporary file in the target folder, renamed when complete.

A writer that dies (SIGKILL, a power cut) leaves its temporary file behind, never a
partial file under the final name; the next writer into the same folder removes it
(:mod:`sealbox._util.temporaries`: how temporary files are named, locked and cleaned
up). A rewrite keeps the owner, group and mode of the file it replaces; a new file gets
the mode asked for (0600 unless said). Also what goes with writing and reading files
whole: a group of files replaced together, folders made, bounded reads, an input
opened, the input refused as the output, and the errors of a refused write.

:class:`AlignedWriter` and :data:`WRITE_PIECE`, the way bulk outputs reach the file
system, are :mod:`sealbox._util.aligned`'s, and importable from here as before.

Paths are handled with :mod:`os.path`, not :mod:`pathlib`: this module is on the
start-up path of every ``sealbox encrypt`` and ``decrypt``.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import signal
import stat
from collections.abc import Iterator
from typing import BinaryIO, Final

from sealbox._util.aligned import WRITE_PIECE, AlignedWriter
from sealbox._util.temporaries import (
    _create_temporary,
    _hold,
    _temporary_name,
    remove_stale_temporaries,
)
from sealbox.exceptions import StorageError

__all__ = [
    "WRITE_PIECE",
    "AlignedWriter",
    "atomic_write",
    "atomic_write_group",
    "atomic_writer",
    "file_exists_error",
    "is_special",
    "make_folder",
    "open_input",
    "os_reason",
    "read_limited",
    "refuse_input_as_output",
    "remove_stale_temporaries",
    "signals_held",
]


def make_folder(folder: str | os.PathLike[str], mode: int = 0o700) -> None:
    """Create ``folder`` and its missing parents (``mode``: 0700 by default, for key files).

    Every folder made gets ``mode`` whatever the umask (the parents too: a parent open
    to others would let them move the folder away and put theirs in its place). An
    existing folder is left as it is. A path that exists and is not a folder, or a
    folder that cannot be made, is a :class:`~sealbox.exceptions.StorageError` naming it.
    """
    path = os.path.abspath(folder)
    missing = []
    while not os.path.isdir(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    try:
        # Parents too get ``mode`` (os.makedirs applies it to the last folder only).
        for each in reversed(missing):
            try:
                os.mkdir(each, mode)
            except FileExistsError:
                continue  # another process's: left as it is
            if stat.S_IMODE(os.stat(each).st_mode) != mode:
                os.chmod(each, mode)  # the umask narrowed it
    except OSError as exc:
        raise write_failed(f"folder {os.fspath(folder)}", folder, exc, verb="create") from None
    if not os.path.isdir(folder):
        raise StorageError(
            f"cannot create folder {os.fspath(folder)}: a file of that name exists",
            code="not_a_folder",
            facts={"path": os.fspath(folder)},
        )


def file_exists_error(path: str | os.PathLike[str]) -> StorageError:
    """The error for a write that would replace ``path`` without ``overwrite=True``."""
    name = os.fspath(path)
    return StorageError(
        f"{name} already exists",
        hint="pass overwrite=True to replace it",
        code="file_exists",
        facts={"path": name},
    )


@contextlib.contextmanager
def atomic_writer(
    path: str | os.PathLike[str],
    *,
    mode: int = 0o600,
    overwrite: bool = True,
    durable: bool = True,
) -> Iterator[BinaryIO]:
    """Yield a binary file that replaces ``path`` only if the block completes.

    The data goes to a temporary file (mode ``mode`` from its creation) in the
    same folder, is flushed to disk (``fsync``, unless ``durable`` is false),
    then renamed over ``path``. If the block raises, the temporary file is
    removed and ``path`` is untouched. ``durable=False`` suits bulk outputs
    (file encryption), where forcing gigabytes to disk would dominate the run:
    the rename still happens only after the whole output was written.

    A symbolic link stays in place: the file it points to is replaced. A device,
    FIFO or socket (``/dev/null``, a named pipe) holds no file to replace, and a
    rename would put a regular file in its place: it is opened and written
    directly, whatever ``overwrite`` says, as a shell redirection would.

    Raises:
        StorageError: ``path`` exists and ``overwrite`` is false, or the folder
            cannot be written.
    """
    target = os.fspath(path)
    if is_special(target):
        with open(target, "wb") as fh:
            yield fh
            fh.flush()
        return
    if os.path.islink(target):
        target = os.path.realpath(target)
    if not overwrite and os.path.exists(target):
        raise file_exists_error(target)
    folder, name = os.path.split(target)
    folder = folder or os.curdir
    remove_stale_temporaries(folder)
    try:
        fd, tmp = _create_temporary(folder, name)
    except OSError as exc:
        raise write_failed(f"in {folder}", folder, exc) from None
    try:
        _take_over_attributes(fd, target, mode)
        # Renamed while still open: until then its lock tells the clean-up of other
        # writers (remove_stale_temporaries) that this one lives.
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
            _publish(tmp, target, overwrite=overwrite)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if durable:
        _fsync_dir(folder)


def _publish(tmp: str, target: str, *, overwrite: bool) -> None:
    """Rename ``tmp`` to ``target``; without ``overwrite``, only if ``target`` is free."""
    if overwrite:
        os.replace(tmp, target)
        return
    # A link, unlike a rename, fails if the name was taken meanwhile.
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise file_exists_error(target) from None
    os.unlink(tmp)


def atomic_write_group(
    files: list[tuple[str | os.PathLike[str], bytes, int]], *, overwrite: bool = True
) -> None:
    """Replace several files as a group: all of them, or (on a failure) none.

    ``files`` lists ``(path, data, mode for a new file)``. Every new file is written to
    a temporary file and flushed to disk first, so a full disk or an I/O error leaves
    every old file as it was. Only then are they renamed into place, one by one; if a
    rename fails, those already renamed are put back from hard links of the old files.
    Ctrl-C, SIGTERM and SIGHUP wait until the group is written (or rolled back). Only
    a process killed otherwise between two renames (SIGKILL, a power cut: a window
    of microseconds) can leave a mix; readers that need a matching pair, such as a
    key and its certificate, check it. The caller holds the group's lock.

    Raises:
        StorageError: a file exists and ``overwrite`` is false, or a file cannot be
            written (nothing was replaced).
    """
    staged: list[tuple[str, str, str | None]] = []  # (target, temporary, backup)
    held: list[int] = []  # their descriptors, locked and open until the end
    with signals_held():
        try:
            for path, data, mode in files:
                staged.append(_stage(path, data, mode, overwrite=overwrite, held=held))
            _rename_all(staged)
        except OSError as exc:
            target = files[0][0]
            raise write_failed(os.fspath(target), target, exc, "; nothing was replaced") from None
        finally:
            for _target, tmp, backup in staged:
                for leftover in (tmp, backup):
                    if leftover is not None:
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(leftover)
            for fd in held:
                os.close(fd)
    for folder in {os.path.dirname(t) or os.curdir for t, _, _ in staged}:
        _fsync_dir(folder)


# Ctrl-C, SIGTERM and SIGHUP, held back while a group is written: the default SIGTERM
# would end the process between two renames (a new key beside its old certificate,
# a CA key without its certificate), and a handler's exception there would skip the
# clean-up. They arrive once the group is whole, or whole again as it was.
_HELD_SIGNALS: Final = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP})


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold Ctrl-C, SIGTERM and SIGHUP back for the block (this thread); they arrive after."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _stage(
    path: str | os.PathLike[str], data: bytes, mode: int, *, overwrite: bool, held: list[int]
) -> tuple[str, str, str | None]:
    """Write ``data`` to a flushed temporary file beside ``path``; link the old file aside.

    The descriptors of both stay open (and locked) in ``held``, for the caller to close.
    """
    target = os.path.realpath(os.fspath(path))
    if not overwrite and os.path.lexists(target):
        raise file_exists_error(target)
    folder, name = os.path.split(target)
    folder = folder or os.curdir
    remove_stale_temporaries(folder)
    fd, tmp = _create_temporary(folder, name)
    held.append(fd)
    backup: str | None = None
    try:
        _take_over_attributes(fd, target, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        if os.path.lexists(target):
            backup = _temporary_name(folder, name)
            os.link(target, backup)
            held.append(os.open(backup, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW))
            _hold(held[-1])
    except BaseException:
        for leftover in (tmp, backup):
            if leftover is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(leftover)
        raise
    return target, tmp, backup


def _rename_all(staged: list[tuple[str, str, str | None]]) -> None:
    done: list[tuple[str, str | None]] = []
    try:
        for target, tmp, backup in staged:
            os.replace(tmp, target)
            done.append((target, backup))
    except BaseException:
        for target, backup in reversed(done):
            with contextlib.suppress(OSError):
                if backup is None:
                    os.unlink(target)
                else:
                    os.replace(backup, target)
        raise


def is_special(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` (after links) exists and is neither a regular file nor a folder."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _take_over_attributes(fd: int, target: str, mode: int) -> None:
    """Give the temporary file the mode, owner and group of the file it will replace;
    a file asked for without rights for others (``mode`` 0600) gets none either."""
    try:
        old = os.stat(target)
    except OSError:
        os.fchmod(fd, mode)
        return
    if not stat.S_ISREG(old.st_mode):
        os.fchmod(fd, mode)
        return
    # Owner first: chown clears set-id bits, the chmod after restores the mode.
    with contextlib.suppress(PermissionError):
        os.fchown(fd, old.st_uid, old.st_gid)
    with contextlib.suppress(PermissionError):
        # Not root: keep at least the group, if this user belongs to it.
        os.fchown(fd, -1, old.st_gid)
    keep = stat.S_IMODE(old.st_mode)
    if not mode & 0o007:
        # Secret-bearing (a private key, a plaintext): the group the file was shared with
        # stays, but never everybody: `--force` over a world-readable file must not make
        # a world-readable private key.
        keep &= ~0o007
    if os.fstat(fd).st_gid != old.st_gid:
        # The group could not be kept: its rights would go to this user's group
        # instead. Give that group no more than everybody else has.
        keep = (keep & ~0o070) | ((keep & 0o007) << 3)
    os.fchmod(fd, keep)


def atomic_write(
    path: str | os.PathLike[str], data: bytes, *, mode: int = 0o600, overwrite: bool = True
) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_writer`).

    Ctrl-C, SIGTERM and SIGHUP wait until ``path`` is replaced or left as it was: the
    default SIGTERM would leave the temporary file behind. (The write is small; a
    streamed :func:`atomic_writer` is left to interrupt, and cleans up on Ctrl-C.)
    """
    # A device or FIFO is written into directly, and may block (a pipe nobody reads):
    # it stays open to Ctrl-C.
    held = contextlib.nullcontext() if is_special(path) else signals_held()
    try:
        with held, atomic_writer(path, mode=mode, overwrite=overwrite) as fh:
            fh.write(data)
    except OSError as exc:
        raise write_failed(os.fspath(path), path, exc) from None


#: ``errno`` values of a file system with no room left (for everyone, or for this user).
_FULL: Final = frozenset({errno.ENOSPC, errno.EDQUOT})


def write_failed(
    what: str, path: str | os.PathLike[str], exc: OSError, also: str = "", *, verb: str = "write"
) -> StorageError:
    """The error of a write to ``path`` that failed with ``exc``: ``cannot VERB WHAT:
    REASON`` (then ``also``), code ``disk_full`` (fact ``path``) when the file system has no
    room left, ``file_too_large`` past the largest file it or the process may write, so
    that a program can tell that from a bug; a hint for a person where there is one."""
    from sealbox._util.write_hints import write_hint  # on a failure only

    too_large = exc.errno == errno.EFBIG
    return StorageError(
        f"cannot {verb} {what}: {os_reason(exc)}{also}",
        hint=write_hint(exc, os.fspath(path)),
        code="disk_full" if exc.errno in _FULL else "file_too_large" if too_large else None,
        facts={"path": os.fspath(path)},
    )


def os_reason(exc: OSError) -> str:
    """Why an operating-system call failed, as a message goes on after a colon
    (``no space left on device``): the system's words, in lower case."""
    return (exc.strerror or type(exc).__name__).lower()


def open_input(path: str | os.PathLike[str]) -> io.FileIO:
    """``path`` opened for reading, unbuffered.

    Raises:
        StorageError: it does not exist, is a directory, or cannot be read (why, in words).
    """
    try:
        return io.FileIO(path, "r")
    except FileNotFoundError:
        raise StorageError(f"{os.fspath(path)} does not exist") from None
    except IsADirectoryError:
        raise StorageError(f"{os.fspath(path)} is a directory") from None
    except OSError as exc:
        raise StorageError(f"cannot read {os.fspath(path)}: {os_reason(exc)}") from None


def refuse_input_as_output(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Refuse ``dst`` as the output of a command reading ``src`` when it is that file, by
    any name (a link): the output would replace its own input.

    Raises:
        StorageError: ``dst`` is ``src``.
    """
    try:
        same = os.path.exists(dst) and os.path.samefile(src, dst)
    except OSError:
        same = False
    if same:
        raise StorageError(
            f"{os.fspath(dst)} is the input file", hint="write the output to another file"
        )


def read_limited(path: str | os.PathLike[str], limit: int, what: str = "file") -> bytes:
    """Read a whole small file, refusing one larger than ``limit`` bytes.

    Raises:
        StorageError: the file is missing, unreadable or too large.
    """
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except FileNotFoundError:
        raise StorageError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise StorageError(f"{what} {path} is a directory") from None
    except OSError as exc:
        raise StorageError(f"cannot read {what} {path}: {os_reason(exc)}") from None
    if len(data) > limit:
        raise StorageError(f"{what} {path} is larger than {limit} bytes")
    return data


def _fsync_dir(folder: str) -> None:
    # Make the rename itself durable. Some file systems refuse fsync on a folder.
    with contextlib.suppress(OSError):
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
