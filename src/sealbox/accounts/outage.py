"""Whether a server the accounts need (PostgreSQL, Redis) answers, as a process's last
call or new connection said, told in the log once per change: one warning when it stops
answering, one when a connection is opened again, never one per request.

The lines go to the logger ``sealbox.accounts.outage``, which has no handler of its own:
a program that configured none (the command line) shows its own error, not these, as
Python's last-resort handler would.

May import: :mod:`sealbox.exceptions` and the standard library.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import logging
import threading

from sealbox.exceptions import StoreUnavailableError

__all__ = ["OutageState"]

log = logging.getLogger("sealbox.accounts.outage")
log.addHandler(logging.NullHandler())


class OutageState:
    """Whether ``store`` answers; :meth:`down` and :meth:`back` log each change once."""

    def __init__(self, store: str) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._down = False

    def down(self, error: StoreUnavailableError) -> StoreUnavailableError:
        """Note that ``store`` did not answer (``error`` says how); return ``error``."""
        with self._lock:
            changed, self._down = not self._down, True
        if changed:
            log.warning(
                "%s is unavailable: %s; requests needing it are refused (503) until it "
                "answers again",
                self._store,
                error,
            )
        return error

    def back(self) -> None:
        """Note that ``store`` answers (a connection to it was opened)."""
        if not self._down:  # the usual case: no lock taken
            return
        with self._lock:
            changed, self._down = self._down, False
        if changed:
            log.warning("%s answers again: requests needing it are served", self._store)
