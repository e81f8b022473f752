"""A private folder for plaintext that must touch a file system briefly (an editor session).

:func:`private_workspace` makes a folder with mode 0700, on a memory-backed file
system where the machine has one — ``$XDG_RUNTIME_DIR`` (a per-user tmpfs on systemd
machines), else ``/dev/shm`` — so the plaintext never reaches a disk. It is
overwritten and removed when the block ends, also on SIGINT, SIGTERM or SIGHUP
(which then end the block with :class:`Interrupted`; another one arriving during the
clean-up waits for it to finish). Nothing survives SIGKILL: the
folder is named ``sealbox-edit-PID-RANDOM``, and :func:`remove_stale_workspaces`
(which every ``sealbox secrets`` command runs) removes those whose process is gone.
"""

from __future__ import annotations

import contextlib
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
    "private_workspace",
    "remove_stale_workspaces",
    "workspace_roots",
]

PREFIX: Final = "sealbox-edit-"
_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


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
        Interrupted: SIGINT, SIGTERM or SIGHUP arrived during the block.
    """
    root, in_memory = workspace_roots()[0]
    folder = root / f"{PREFIX}{os.getpid()}-{secrets.token_hex(6)}"
    folder.mkdir(mode=0o700)
    previous = {}

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        raise Interrupted(signum)

    try:
        for sig in _SIGNALS:
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
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if pending:
                signal.raise_signal(pending[0])


def shred(folder: Path) -> None:
    """Overwrite every file in ``folder`` with zeros, then remove the folder."""
    # Overwriting matters on a disk (not on tmpfs, copy-on-write or flash storage,
    # where the old blocks may survive anyway): it is cheap, so it is always done.
    with contextlib.suppress(OSError):
        for path in folder.iterdir():
            with contextlib.suppress(OSError):
                size = path.stat().st_size
                with path.open("r+b") as fh:
                    fh.write(b"\0" * size)
                    fh.flush()
                    os.fsync(fh.fileno())
    shutil.rmtree(folder, ignore_errors=True)


def remove_stale_workspaces() -> list[Path]:
    """Remove the workspaces of processes that died without cleaning up; return them."""
    removed = []
    for root, _ in workspace_roots():
        try:
            entries = list(root.iterdir())
        except OSError:
            continue
        for entry in entries:
            pid = _owner(entry.name)
            if pid is None or pid == os.getpid() or _running(pid):
                continue
            with contextlib.suppress(OSError):
                if entry.is_dir() and not entry.is_symlink() and entry.stat().st_uid == os.getuid():
                    shred(entry)
                    removed.append(entry)
    return removed


def _owner(name: str) -> int | None:
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
