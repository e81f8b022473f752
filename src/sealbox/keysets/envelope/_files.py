"""The files :class:`~sealbox.keysets.envelope.cipher.EnvelopeCipher` reads and rewrites."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Final

from sealbox.exceptions import StorageError

__all__ = ["check_paths", "open_input", "unchanged"]

_SAME_FILE: Final = ("st_dev", "st_ino", "st_size", "st_mtime_ns")


def unchanged(path: Path, opened: os.stat_result) -> bool:
    """Whether ``path`` is still the file, as it was, that ``opened`` describes."""
    try:
        now = path.stat()
    except OSError:
        return False
    return all(getattr(now, f) == getattr(opened, f) for f in _SAME_FILE)


def check_paths(src: Path, dst: Path) -> None:
    try:
        same = dst.exists() and src.samefile(dst)
    except OSError:
        same = False
    if same:
        raise StorageError(f"{dst} is the input file", hint="write the output to another file")


def open_input(path: Path) -> io.FileIO:
    try:
        return io.FileIO(path, "r")
    except FileNotFoundError:
        raise StorageError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise StorageError(f"{path} is a directory") from None
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {(exc.strerror or '').lower()}") from None
