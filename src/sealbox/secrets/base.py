"""What every secret source provides: the :class:`SecretSource` protocol.

A source answers one question — "what is the value of NAME?" — with a
:class:`~sealbox.secret.Secret` or ``None``, and can list the names it holds.
Sources never put a value into an exception message, a ``repr`` or a log line;
their errors name the source (``label``) and the secret's name only.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import re
from typing import Protocol, runtime_checkable

from sealbox.exceptions import SecretSourceError
from sealbox.secret import Secret

__all__ = ["NAME_PATTERN", "SecretSource", "check_name"]

# The names every source accepts: what a POSIX shell accepts as a variable name.
NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@runtime_checkable
class SecretSource(Protocol):
    """A place secrets come from (environment, a file, Vault…)."""

    @property
    def label(self) -> str:
        """Where the values come from, for messages (``"environment"``, ``".env file x"``)."""
        ...

    def lookup(self, name: str) -> Secret[str] | None:
        """Return the value of ``name``, or ``None`` if this source does not have it.

        Raises:
            SecretSourceError: the source exists but could not be read.
        """
        ...

    def names(self) -> list[str]:
        """Every name this source holds, sorted."""
        ...


def check_name(name: str, where: str = "", *, show: bool = True) -> str:
    """Return ``name`` if it is a valid secret name, else raise a :class:`SecretSourceError`.

    ``show=False`` leaves the name out of the message: where the name was read from a
    file, not typed, a "name" may be a value that lost its ``NAME=`` (a wrapped line).
    """
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        shown = name if show and isinstance(name, str) and len(name) <= 64 else "<name>"
        raise SecretSourceError(
            f"{where}{'' if not where else ': '}invalid secret name {shown!r} "
            "(letters, digits and _, not starting with a digit)"
        )
    return name
