"""How sealbox puts files on disk, for programs built on it (the command line among them).

Every file sealbox writes follows the same rules, and these names give them to
callers that write files of their own:

- :func:`atomic_writer` and :func:`atomic_write`: the data goes to a temporary file
  in the target's folder and is renamed over the target only once complete, so a
  reader sees the old file or the new one, never a mix; a replaced file keeps its
  owner, group and mode, a new one gets ``mode`` (0600 unless said). A device or
  FIFO (``/dev/null``, a named pipe) is written into directly.
- :func:`locked`: the exclusive lock sealbox's own writers hold from reading a file
  to renaming its new version; :func:`set_wait_notice` says how a writer that waits
  for it tells so (a program prints a note; by default a warning is logged);
  :func:`lock_timeout` how long it waits (``SEALBOX_LOCK_TIMEOUT``), for a writer that
  waits on a lock of its own (an SQLite database's).
- :func:`make_folder`: a folder and the parents it lacks, every one made 0700 (or the
  ``mode`` asked for), whatever the umask; an existing folder is left as it is.
- :func:`read_limited`: a whole small file, refused past a size limit.
- :func:`is_special`: whether a path is a device, FIFO or socket rather than a file.
- :func:`signals_held`: Ctrl-C, SIGTERM and SIGHUP held back for a block that must
  not be cut short (a pair of files renamed into place; a new secret stored, then shown).
- :func:`os_reason`: why an operating-system call failed, in the words sealbox's
  messages use after a colon (``no space left on device``).
- :func:`write_failed`: the :class:`~sealbox.exceptions.StorageError` of a failed write,
  code ``disk_full`` when the file system has no room left.
- :class:`AlignedWriter`: bulk output cut into the pieces the file system takes
  best (what ``sealbox encrypt`` writes through).

Failures raise :class:`~sealbox.exceptions.StorageError` (``code`` ``"file_exists"``
for a target that exists when ``overwrite=False``) and
:class:`~sealbox.exceptions.LockTimeoutError`.

May import: :mod:`sealbox._util` and :mod:`sealbox.exceptions`.

The names load their module on first use: ``sealbox encrypt`` imports only the
writer it needs.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from sealbox._util.lazy import lazy_names

# Spelled out rather than imported from typing (start-up time); type checkers know it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from sealbox._util.files import (
        AlignedWriter,
        atomic_write,
        atomic_writer,
        is_special,
        make_folder,
        os_reason,
        read_limited,
        signals_held,
        write_failed,
    )
    from sealbox._util.locks import lock_timeout, locked, set_wait_notice

__all__ = [
    "AlignedWriter",
    "atomic_write",
    "atomic_writer",
    "is_special",
    "lock_timeout",
    "locked",
    "make_folder",
    "os_reason",
    "read_limited",
    "set_wait_notice",
    "signals_held",
    "write_failed",
]

_LAZY = {
    "AlignedWriter": "sealbox._util.files",
    "atomic_write": "sealbox._util.files",
    "atomic_writer": "sealbox._util.files",
    "is_special": "sealbox._util.files",
    "make_folder": "sealbox._util.files",
    "os_reason": "sealbox._util.files",
    "read_limited": "sealbox._util.files",
    "signals_held": "sealbox._util.files",
    "write_failed": "sealbox._util.files",
    "lock_timeout": "sealbox._util.locks",
    "locked": "sealbox._util.locks",
    "set_wait_notice": "sealbox._util.locks",
}

# Hidden from type checkers: a module ``__getattr__`` would type every misspelt name
# as Any; they see the names above (TYPE_CHECKING) and report any other.
if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_names(__name__, _LAZY, __all__)
