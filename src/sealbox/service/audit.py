"""The audit log: one JSON object per line, for every authentication and transit event.

Fields: ``time`` (RFC 3339 UTC), ``event`` (``register``, ``login``, ``refresh``,
``logout``, ``password_change``, ``transit.encrypt``, …), ``user``, ``address``,
``outcome`` (``success``, ``failure``, ``throttled``, ``reuse_detected``,
``denied``…) and, for some events, ``detail``. Never a password, a token, a hash,
a plaintext or key material: the records are built from those fields only, and
each line also passes through the redactor of :mod:`sealbox.secret`.

Each record is one ``write()`` to a file opened with ``O_APPEND``, so lines from
several workers never interleave, and a record costs a few microseconds (no
logging machinery: transit writes one per operation).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

from sealbox.secret import Redactor, default_redactor

__all__ = ["AuditLog"]

log = logging.getLogger("sealbox.service")


class AuditLog:
    """Append audit records to a JSON-lines file (safe with several worker processes)."""

    def __init__(self, path: Path | None, *, redactor: Redactor | None = None) -> None:
        self.path = path
        self._redactor = redactor or default_redactor
        self._fd: int | None = None
        self._lock = threading.Lock()
        self._failed = False
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def record(
        self,
        event: str,
        *,
        outcome: str,
        user: str | None = None,
        address: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Write one record (a write error is logged once, never raised)."""
        if self._fd is None:
            return
        entry = {
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "event": event,
            "outcome": outcome,
            "user": user,
            "address": address,
        }
        if detail:
            entry["detail"] = detail
        line = self._redactor.redact(json.dumps(entry, ensure_ascii=False)) + "\n"
        data = line.encode()
        problem = None
        try:
            with self._lock:
                # One write() per line: O_APPEND keeps it whole among other writers.
                while data:
                    data = data[os.write(self._fd, data) :]
        except OSError as exc:
            problem = exc.strerror or type(exc).__name__
        if problem is not None and not self._failed:
            log.error("cannot write the audit log %s: %s", self.path, problem)
        self._failed = problem is not None

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
