"""Vault's typed fields given as text: what ``vault write PATH key=value`` sends.

Vault reads each field of a request into its schema's type, so Vault's command line
sends every ``key=value`` as text: ``min_decryption_version=2`` arrives as ``"2"`` and
``exportable=true`` as ``"true"``. sealbox's own request models take JSON types only (a
``true`` is never read as the version 1). :func:`typed` turns the text spellings Vault
accepts, and only those, into numbers and booleans, for the fields named, before a
model sees them: anything else stays as it is, for the model to refuse.

May import: the standard library only.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

__all__ = ["FALSE_TEXT", "TRUE_TEXT", "typed"]

# A whole number Vault takes as one (no spaces, no fraction); 18 digits stay in int64.
_WHOLE: Final = re.compile(r"[+-]?[0-9]{1,18}\Z")
#: The spellings Vault's booleans take (Go's strconv.ParseBool): true, then false.
TRUE_TEXT: Final = frozenset({"1", "t", "T", "TRUE", "true", "True"})
#: The text spellings of false, which ask for nothing.
FALSE_TEXT: Final = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def typed(
    body: Mapping[str, Any], *, whole: Iterable[str] = (), flags: Iterable[str] = ()
) -> dict[str, Any]:
    """``body`` with the text of its ``whole`` fields made numbers and of its ``flags``
    booleans, where the text is Vault's spelling of one."""
    out = dict(body)
    for name in whole:
        value = out.get(name)
        if isinstance(value, str) and _WHOLE.match(value):
            out[name] = int(value)
    for name in flags:
        value = out.get(name)
        if isinstance(value, str):
            if value in TRUE_TEXT:
                out[name] = True
            elif value in FALSE_TEXT:
                out[name] = False
    return out
