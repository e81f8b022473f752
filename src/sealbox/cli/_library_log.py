"""What the library logs while a command runs, in the command line's dialect.

The library logs for the operator of a running service (the ``sealbox.*`` loggers: an
audit log that cannot be written, accounts kept under old username rules). Outside
``sealbox serve`` nothing configures logging, so Python's last-resort handler printed such
a record's bare text on stderr beside the command's own ``sealbox: error:`` line, worded
for a service (``refusing requests until it can be``). This handler takes the last
resort's place: a failed command prints its error line and hint alone, as every failure
does (what the library logged on the way is the failure it reports); a command that
succeeds shows each record after its output, as a ``sealbox: warning:`` line. A logger
with a handler of its own (``sealbox.accounts.outage``'s, which keeps its service-worded
lines from a command line) is left to it, as the last resort would have been.

Only the commands that run the service's library code
(:data:`sealbox.cli._app.LOGGING_COMMANDS`: ``users``, ``clients``, ``jwt``) install it:
the others log nothing, and need not import :mod:`logging` to start.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sealbox.cli._io import warn

__all__ = ["LibraryLog", "library_log"]


class LibraryLog(logging.Handler):
    """Holds the library's warnings and errors until the command's outcome is known."""

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__(logging.WARNING)
        self._logger = logger
        self.held: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if self._handled_below(record.name):
            return
        try:
            self.held.append(record.getMessage())
        except Exception:  # noqa: BLE001 - a malformed record must not end the command
            self.handleError(record)

    def _handled_below(self, name: str) -> bool:
        """Whether a logger between ``name``'s and ours has a handler of its own."""
        logger: logging.Logger | None = logging.getLogger(name)
        while logger is not None and logger is not self._logger:
            if logger.handlers:
                return True
            logger = logger.parent if logger.propagate else None
        return False

    def done(self, status: int) -> None:
        """The command ended with ``status``: on a failure its error line says it all."""
        if status == 0:
            for message in self.held:
                warn(message)
        self.held.clear()


@contextmanager
def library_log() -> Iterator[LibraryLog]:
    """A :class:`LibraryLog` on the ``sealbox`` logger for the ``with`` block."""
    logger = logging.getLogger("sealbox")
    handler = LibraryLog(logger)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
