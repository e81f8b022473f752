"""The audit log: one JSON object per line, for every authentication event.

Fields: ``time`` (RFC 3339 UTC), ``event`` (``register``, ``login``, ``refresh``,
``logout``, ``password_change``, …), ``user``, ``address``, ``outcome``
(``success``, ``failure``, ``throttled``, ``reuse_detected``…) and, for some
events, ``detail``. Never a password, a token or a hash: the records are built
from those fields only, and the handler also carries the redaction filter.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

from sealbox.secret import RedactingFilter

__all__ = ["AuditLog"]


class AuditLog:
    """Append audit records to a JSON-lines file (safe with several worker processes)."""

    def __init__(self, path: Path | None) -> None:
        self.logger = logging.getLogger(f"sealbox.audit.{id(self)}")
        self.logger.propagate = False
        self.logger.setLevel(logging.INFO)
        self.path = path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            # O_APPEND: each line lands whole even when several workers write.
            handler: logging.Handler = logging.FileHandler(path, mode="a", encoding="utf-8")
        else:
            handler = logging.NullHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.addFilter(RedactingFilter())
        self.logger.addHandler(handler)
        self._handler = handler

    def record(
        self,
        event: str,
        *,
        outcome: str,
        user: str | None = None,
        address: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Write one record."""
        entry = {
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "event": event,
            "outcome": outcome,
            "user": user,
            "address": address,
        }
        if detail:
            entry["detail"] = detail
        self.logger.info(json.dumps(entry, ensure_ascii=False))

    def close(self) -> None:
        """Flush and close the file."""
        self.logger.removeHandler(self._handler)
        self._handler.close()
