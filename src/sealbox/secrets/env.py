"""Secrets from environment variables.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from sealbox.secret import Secret

__all__ = ["EnvSource"]


class EnvSource:
    """Read secrets from the process environment (or any mapping).

    Args:
        prefix: prepended to every name: with ``prefix="APP_"``, ``lookup("DB")``
            reads ``APP_DB``. ``names()`` lists names without the prefix.
        environ: the mapping to read, ``os.environ`` (read live) by default.

    Names are case-sensitive, as they are on POSIX systems. An empty value counts
    as present.
    """

    def __init__(self, prefix: str = "", environ: Mapping[str, str] | None = None) -> None:
        self.prefix = prefix
        self._environ = os.environ if environ is None else environ

    @property
    def label(self) -> str:
        return f"environment ({self.prefix}*)" if self.prefix else "environment"

    def lookup(self, name: str) -> Secret[str] | None:
        value = self._environ.get(self.prefix + name)
        return None if value is None else Secret(value)

    def names(self) -> list[str]:
        p = self.prefix
        return sorted(k[len(p) :] for k in self._environ if k.startswith(p) and len(k) > len(p))

    def __repr__(self) -> str:
        return f"EnvSource(prefix={self.prefix!r})"
