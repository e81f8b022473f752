"""Atomic file writes: a temporary file in the target folder, renamed when complete."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from sealbox.exceptions import StorageError

__all__ = ["atomic_write", "atomic_writer", "read_limited"]


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

    Raises:
        StorageError: ``path`` exists and ``overwrite`` is false, or the folder
            cannot be written.
    """
    target = Path(path)
    if not overwrite and target.exists():
        raise StorageError(f"{target} already exists", hint="use --force to replace it")
    folder = target.parent
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise StorageError(f"cannot write in {folder}: {exc.strerror}") from None
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        if not overwrite and target.exists():
            raise StorageError(  # noqa: TRY301 - cleanup below is shared
                f"{target} already exists", hint="use --force to replace it"
            )
        tmp.replace(target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    if durable:
        _fsync_dir(folder)


def atomic_write(
    path: str | os.PathLike[str], data: bytes, *, mode: int = 0o600, overwrite: bool = True
) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_writer`)."""
    try:
        with atomic_writer(path, mode=mode, overwrite=overwrite) as fh:
            fh.write(data)
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {exc.strerror}") from None


def read_limited(path: str | os.PathLike[str], limit: int, what: str = "file") -> bytes:
    """Read a whole small file, refusing one larger than ``limit`` bytes.

    Raises:
        StorageError: the file is missing, unreadable or too large.
    """
    try:
        with Path(path).open("rb") as fh:
            data = fh.read(limit + 1)
    except FileNotFoundError:
        raise StorageError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise StorageError(f"{what} {path} is a directory") from None
    except OSError as exc:
        raise StorageError(f"cannot read {what} {path}: {exc.strerror}") from None
    if len(data) > limit:
        raise StorageError(f"{what} {path} is larger than {limit} bytes")
    return data


def _fsync_dir(folder: Path) -> None:
    # Make the rename itself durable. Some file systems refuse fsync on a folder.
    with contextlib.suppress(OSError):
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
