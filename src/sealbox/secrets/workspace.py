"""A private folder for plaintext that must touch a file system briefly (an editor session).

:func:`private_workspace` makes a folder with mode 0700, on a memory-backed file
system where the machine has one — ``$XDG_RUNTIME_DIR`` (a per-user tmpfs on systemd
machines), else ``/dev/shm`` — so the plaintext never reaches a disk. It is
overwritten and removed when the block ends, also on SIGINT, SIGQUIT, SIGTERM or
SIGHUP (which then end the block with :class:`Interrupted`; another one arriving during
the clean-up waits for it to finish). A signal the caller ignores stays ignored, for the
session and for the editor it starts: ``nohup sealbox secrets edit`` asked for a hang-up
not to end it, and a script's background job ignores the Ctrl-C meant for the foreground
one. The folder still goes when the block ends, so it never outlives the command.
Nothing survives SIGKILL: the folder is named ``sealbox-edit-PID-RANDOM``, and
:func:`remove_stale_workspaces` (which every ``sealbox secrets`` command runs) removes
those no live session holds. A session holds
an advisory lock (``flock``) on its folder from before the folder gets its name until it
is removed; the kernel drops the lock when the process dies, however it dies. The process
id in the name is not proof of death (two containers sharing ``/dev/shm`` see each
other's folders but not each other's processes): a folder is removed only when its lock
is free, and never while a process of its id runs here (a session of an older sealbox
holds no lock).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
import signal
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Final

__all__ = [
    "PREFIX",
    "Interrupted",
    "keyboard_to_child",
    "private_workspace",
    "remove_stale_workspaces",
    "signal_name",
    "workspace_roots",
]

PREFIX: Final = "sealbox-edit-"
_SIGNALS: Final = (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(Exception):  # noqa: N818 - mirrors KeyboardInterrupt
    """A signal ended the workspace's block (after the folder was removed)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def workspace_roots() -> list[tuple[Path, bool]]:
    """Where a workspace may go, best first: ``(folder, memory-backed)``."""
    roots: list[tuple[Path, bool]] = []
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and _private_dir(Path(runtime)):
        roots.append((Path(runtime), True))
    shm = Path("/dev/shm")  # noqa: S108 - a memory-backed file system, used on purpose
    if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
        roots.append((shm, True))
    roots.append((Path(tempfile.gettempdir()), False))
    return roots


def _private_dir(path: Path) -> bool:
    try:
        st = path.stat()
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and os.access(path, os.W_OK)


@contextlib.contextmanager
def private_workspace() -> Iterator[tuple[Path, bool]]:
    """Yield ``(folder, memory_backed)``; the folder is shredded and removed afterwards.

    Raises:
        Interrupted: SIGINT, SIGQUIT, SIGTERM or SIGHUP arrived during the block (one the
            caller ignores stays ignored).
    """
    root, in_memory = workspace_roots()[0]
    name = f"{PREFIX}{os.getpid()}-{secrets.token_hex(6)}"
    folder = root / name
    # Made and locked under a name no clean-up looks at, then renamed: a folder with the
    # session's name is locked from its first instant, so no other process can take it
    # for one left behind.
    staging = root / f".{name}"
    staging.mkdir(mode=0o700)
    lock = os.open(staging, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        staging.rename(folder)
    except BaseException:
        os.close(lock)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    previous = {}

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        raise Interrupted(signum)

    try:
        for sig in _SIGNALS:
            if signal.getsignal(sig) is not signal.SIG_IGN:
                previous[sig] = signal.signal(sig, on_signal)
        yield folder, in_memory
    finally:
        # A second signal must not cut the clean-up short: it waits until the folder
        # is gone, then reaches the handler the program had before.
        pending: list[int] = []
        for sig in previous:
            signal.signal(sig, lambda signum, _frame: pending.append(signum))
        try:
            shred(folder)
        finally:
            os.close(lock)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if pending:
                signal.raise_signal(pending[0])


@contextlib.contextmanager
def keyboard_to_child() -> Iterator[list[int]]:
    """Leave Ctrl-C and Ctrl-\\ to a child in the foreground (an editor) during the block.

    The terminal sends SIGINT and SIGQUIT to the child too, and the child decides (Vim
    takes Ctrl-C to leave insert mode); here they are only recorded, in the list yielded,
    for the caller to act on if the child then fails — as git, ``crontab -e`` and
    ``sudoedit`` do. A Python handler, not ``SIG_IGN``: the child starts with the default
    action. SIGTERM and SIGHUP are left as they were, and so is a key's signal the caller
    ignores (a script's background job): the child inherits it ignored.
    """
    seen: list[int] = []
    keys = [
        sig
        for sig in (signal.SIGINT, signal.SIGQUIT)
        if signal.getsignal(sig) is not signal.SIG_IGN
    ]
    previous = {sig: signal.signal(sig, lambda signum, _frame: seen.append(signum)) for sig in keys}
    try:
        yield seen
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def signal_name(signum: int) -> str:
    """``SIGKILL`` for 9; ``signal 34`` for one with no name."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def shred(folder: Path) -> None:
    """Overwrite every file in ``folder`` with zeros, then remove the folder."""
    # Overwriting matters on a disk (not on tmpfs, copy-on-write or flash storage,
    # where the old blocks may survive anyway): it is cheap, so it is always done.
    # Only regular files with no other name: a symlink or a hard link (an editor's
    # backup scheme, or a mistake) must not lead the zeros to a file outside the folder.
    with contextlib.suppress(OSError):
        for path in folder.iterdir():
            with contextlib.suppress(OSError):
                fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
                with os.fdopen(fd, "wb") as fh:
                    st = os.fstat(fd)
                    if stat.S_ISREG(st.st_mode) and st.st_nlink == 1:
                        fh.write(b"\0" * st.st_size)
                        fh.flush()
                        os.fsync(fd)
    shutil.rmtree(folder, ignore_errors=True)


def remove_stale_workspaces() -> list[Path]:
    """Remove the workspaces no live session holds (their process died); return them.

    A folder is taken for left behind only when its lock can be taken, and it is shredded
    while this process holds that lock.
    """
    removed = []
    for root, _ in workspace_roots():
        try:
            entries = list(root.iterdir())
        except OSError:
            continue
        for entry in entries:
            pid = _owner(entry.name)
            # A folder of a process alive in this machine's view is left alone whatever its
            # lock says: it may be a session of an older sealbox, which took none.
            if pid is None or (pid != os.getpid() and _running(pid)):
                continue
            with contextlib.suppress(OSError):
                fd = os.open(entry, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
                try:
                    if os.fstat(fd).st_uid != os.getuid():
                        continue
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        continue  # a live session, in this process or another
                    shred(entry)
                    removed.append(entry)
                finally:
                    os.close(fd)
    return removed


def _owner(name: str) -> int | None:
    """The process id in a session folder's name; ``None`` for any other name."""
    if not name.startswith(PREFIX):
        return None
    pid, _, rest = name[len(PREFIX) :].partition("-")
    return int(pid) if pid.isdigit() and rest else None


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
