"""Vault's typed fields given as text: what ``vault write PATH key=value`` sends.

Vault reads each field of a request into its schema's type, so Vault's command line
sends every ``key=value`` as text: ``min_decryption_version=2`` arrives as ``"2"`` and
``exportable=true`` as ``"true"``. sealbox's own request models take JSON types only (a
``true`` is never read as the version 1). :func:`typed` turns the text spellings Vault
accepts, and only those, into numbers and booleans, for the fields named, before a
model sees them: anything else stays as it is, for the model to refuse.

Vault decodes base64 with Go's standard decoder, which skips line breaks: ``plaintext=$(base64
< file)`` arrives broken every 76 characters. :func:`unbroken` takes them out of a transit
request's base64 fields, and only them, before sealbox's strict decoder sees the text.

May import: the standard library only.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

__all__ = ["FALSE_TEXT", "LINE_BREAK", "TRUE_TEXT", "typed", "unbroken"]

# A whole number Vault takes as one (no spaces, no fraction); 18 digits stay in int64.
_WHOLE: Final = re.compile(r"[+-]?[0-9]{1,18}\Z")
#: The spellings Vault's booleans take (Go's strconv.ParseBool): true, then false.
TRUE_TEXT: Final = frozenset({"1", "t", "T", "TRUE", "true", "True"})
#: The text spellings of false, which ask for nothing.
FALSE_TEXT: Final = frozenset({"0", "f", "F", "FALSE", "false", "False"})
#: A JSON escape of a line break in a request's bytes: the body may need :func:`unbroken`.
LINE_BREAK: Final = re.compile(rb"\\[nr]")
# Base64 fields; and those after a `vault:v<N>:` prefix (Vault splits at the first two
# colons, then decodes the rest; an HMAC is compared as text, so it is not one of them).
_BASE64: Final = ("plaintext", "associated_data", "input")
_VERSIONED: Final = ("ciphertext", "signature")
_BREAKS: Final = str.maketrans("", "", "\r\n")


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


def unbroken(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` (changed in place) with the line breaks Go's base64 decoder skips taken
    out of its base64 text, as Vault reads it; any other character stays, to be refused."""
    for name in _BASE64:
        value = fields.get(name)
        if isinstance(value, str):
            fields[name] = value.translate(_BREAKS)
    for name in _VERSIONED:
        value = fields.get(name)
        if isinstance(value, str) and value.count(":") >= 2:
            prefix, version, rest = value.split(":", 2)
            fields[name] = f"{prefix}:{version}:{rest.translate(_BREAKS)}"
    return fields
