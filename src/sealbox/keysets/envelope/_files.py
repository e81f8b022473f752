"""Whether a file :class:`~sealbox.keysets.envelope.cipher.EnvelopeCipher` rewrites in place
is still the one it read."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

__all__ = ["unchanged"]

_SAME_FILE: Final = ("st_dev", "st_ino", "st_size", "st_mtime_ns")


def unchanged(path: Path, opened: os.stat_result) -> bool:
    """Whether ``path`` is still the file, as it was, that ``opened`` describes."""
    try:
        now = path.stat()
    except OSError:
        return False
    return all(getattr(now, f) == getattr(opened, f) for f in _SAME_FILE)
