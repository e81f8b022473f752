"""Writing a key pair, FILE and FILE.pub, as a pair: what ``sealbox key generate`` does.

The pair goes into a folder that is often not sealbox's (``~/.ssh``), so nothing but
the two files may stay there: no ``.FILE.lock`` sidecar (:func:`sealbox.storage.locked`
keeps its lock files for good). Writers of a pair take the lock of the folder itself
instead (``flock`` on the folder), which creates nothing; only where a folder cannot be
locked (no read right on it; NFS) is FILE's sidecar used.

Under that lock:

- without ``overwrite``, FILE and FILE.pub are created only where no file is (a hard
  link, which fails on a name taken meanwhile, even by a program that takes no lock):
  of two writers of one FILE, one writes the pair and the other fails with
  ``file_exists`` having written nothing;
- with ``overwrite``, the old pair is replaced as a pair: both new files are written
  and flushed before either is renamed into place, so a failure (a full disk) or a
  writer killed while writing leaves the old pair (never a new key beside the old
  public key, whose private key would be gone);
- Ctrl-C, SIGTERM and SIGHUP wait until both files are written or rolled back.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from sealbox._util.files import atomic_write, atomic_write_group, signals_held
from sealbox._util.locks import locked, locked_folder
from sealbox.exceptions import SealboxError

__all__ = ["write_key_pair"]


def write_key_pair(
    private: tuple[str | os.PathLike[str], bytes],
    public: tuple[str | os.PathLike[str], bytes],
    *,
    overwrite: bool = False,
) -> None:
    """Write ``(path, data)`` of a private key (mode 0600) and of its public key (0644).

    Raises:
        StorageError: a file exists and ``overwrite`` is false (code ``file_exists``;
            nothing was written), or a file cannot be written (the old pair is kept).
        LockTimeoutError: another writer of the folder held it too long.
    """
    private_path, private_data = Path(private[0]), private[1]
    public_path, public_data = Path(public[0]), public[1]
    if overwrite:
        # Both new files written and flushed before either is renamed into place: a
        # writer killed while writing leaves the old pair (never a new FILE beside the old
        # FILE.pub, whose private key would be gone); only a kill between the two renames,
        # microseconds apart, could part them.
        with _pair_lock(private_path):
            atomic_write_group(
                [(private_path, private_data, 0o600), (public_path, public_data, 0o644)]
            )
        return
    with _pair_lock(private_path), signals_held():
        # Each created where no file is (a hard link: a name taken meanwhile fails it).
        atomic_write(private_path, private_data, mode=0o600, overwrite=False)
        try:
            atomic_write(public_path, public_data, mode=0o644, overwrite=False)
        except BaseException:
            # FILE is this writer's own, created here.
            with contextlib.suppress(OSError, SealboxError):
                private_path.unlink()
            raise


@contextlib.contextmanager
def _pair_lock(private_path: Path) -> Iterator[None]:
    """The folder's lock (nothing created), else FILE's sidecar lock."""
    folder = private_path.resolve().parent
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(locked_folder(folder, what=str(private_path)))
        except OSError:
            stack.enter_context(locked(private_path))
        yield
