"""What the library logs while a command runs, in the command line's dialect.

The library logs for the operator of a running service (the ``sealbox.*`` loggers: an
audit log that cannot be written, accounts kept under old username rules). Outside
``sealbox serve`` nothing configures logging, so Python's last-resort handler printed such
a record's bare text on stderr beside the command's own ``sealbox: error:`` line, worded
for a service (``refusing requests until it can be``). This handler takes the last
resort's place and holds each record until the command's outcome is known:

- a command that succeeds shows each record after its output, as a ``sealbox: warning:``
  line;
- a command that fails drops the records of level ``ERROR`` and above, and shows the
  others (warnings) as ``sealbox: warning:`` lines before its ``sealbox: error:`` line.
  The rule is the level: the library logs an error only for a failure it then raises
  (the audit log that cannot be written), and the command's error line reports that
  failure, in the command line's words; a warning is about something else (accounts
  kept under old username rules), which the failure does not make any less true. A
  record logged after the error line (a command that prints its own error and returns
  a status) is shown after it, by the same rule.

A logger with a handler of its own (``sealbox.accounts.outage``'s, which keeps its
service-worded lines from a command line) is left to it, as the last resort would have
been.

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
    """Holds the library's warnings and errors until the command's outcome is known.

    Attributes:
        held: each record's level and message, in the order logged.
    """

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__(logging.WARNING)
        self._logger = logger
        self.held: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if self._handled_below(record.name):
            return
        try:
            self.held.append((record.levelno, record.getMessage()))
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

    def failing(self) -> None:
        """The command's error line comes next: show the warnings held (not the errors,
        which that line reports), and hold nothing more of them."""
        for level, message in self.held:
            if level < logging.ERROR:
                warn(message)
        self.held.clear()

    def done(self, status: int) -> None:
        """The command ended with ``status``: show what is still held, each record on
        success, the warnings alone on a failure."""
        if status == 0:
            for _, message in self.held:
                warn(message)
            self.held.clear()
        else:
            self.failing()


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
