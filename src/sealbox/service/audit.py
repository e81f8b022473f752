"""The audit log moved to the library: :mod:`sealbox.accounts.audit` (re-exported here).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from sealbox.accounts.audit import AuditLog, AuditUnavailableError

__all__ = ["AuditLog", "AuditUnavailableError"]
