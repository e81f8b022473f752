"""The text of the buffer ``sealbox secrets edit`` opens: values written out quoted where
they need it, and read back as python-dotenv reads a ``.env`` line.

``NAME=value``, ``NAME="with \\n escapes"`` and ``NAME='literal'`` lines; ``#`` after
whitespace starts a comment; a byte order mark an editor saved at the start is dropped,
as the secrets file's own reader drops it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

from sealbox.cli._io import CLIError
from sealbox.exceptions import SecretSourceError
from sealbox.secrets.base import NAME_PATTERN

__all__ = ["parse_edited", "quote", "saved"]


def quote(value: str) -> str:
    """``value`` as a line of the buffer holds it: bare when it is plain, else in double
    quotes with ``\\``, ``"``, newlines, tabs and carriage returns escaped."""
    if value and all(c.isalnum() or c in "-_./:@+=,%" for c in value):
        return value
    escaped = "".join(_QUOTED.get(c, c) for c in value)
    return f'"{escaped}"'


_QUOTED = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "r": "\r"}


def saved(path: Path) -> bytes:
    """What the editor left in ``path``; its removal is an error (not the workspace's path)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CLIError("the editor removed the file; nothing changed") from None


def parse_edited(path: Path) -> dict[str, str]:
    """``NAME=value``, ``NAME="with \\n escapes"`` or ``NAME='literal'`` lines; ``#`` comments."""
    values: dict[str, str] = {}
    # Editors that save UTF-8 with a byte order mark (Notepad) put it before line 1.
    data = saved(path).removeprefix(b"\xef\xbb\xbf")
    for number, raw in enumerate(data.splitlines(), start=1):
        try:
            line = raw.decode()
        except UnicodeDecodeError:
            raise SecretSourceError(
                f"edited file, line {number}: not UTF-8 text; nothing changed"
            ) from None
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, rest = line.partition("=")
        name = name.strip().removeprefix("export ").strip()
        if not sep or not NAME_PATTERN.fullmatch(name):
            raise SecretSourceError(
                f"edited file, line {number}: expected NAME=VALUE; nothing changed"
            )
        if name in values:
            raise SecretSourceError(
                f"edited file, line {number}: {name} appears twice; nothing changed"
            )
        values[name] = _edited_value(rest.strip(), number)
    return values


def _edited_value(text: str, number: int) -> str:
    """The value after ``NAME=``: quoted or not, and as in python-dotenv, a ``#`` after
    whitespace starts a comment (values written here with a space or ``#`` are quoted)."""
    if text.startswith("'"):
        end = text.find("'", 1)
        if end < 0:
            raise SecretSourceError(
                f"edited file, line {number}: unterminated quotes; nothing changed"
            )
        _after_quotes(text[end + 1 :], number)
        return text[1:end]
    if not text.startswith('"'):
        return _COMMENT.split(text, maxsplit=1)[0]
    out, i = [], 1
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in _ESCAPES:
            out.append(_ESCAPES[text[i + 1]])
            i += 2
            continue
        if c == '"':
            _after_quotes(text[i + 1 :], number)
            return "".join(out)
        out.append(c)
        i += 1
    raise SecretSourceError(f"edited file, line {number}: unterminated quotes; nothing changed")


# Whitespace then `#`: the rest of the line is a comment (python-dotenv's rule).
_COMMENT: Final = re.compile(r"\s+#")


def _after_quotes(rest: str, number: int) -> None:
    """What follows a closing quote: nothing, or a comment."""
    if rest.strip() and not _COMMENT.match(rest):
        raise SecretSourceError(
            f'edited file, line {number}: text after the closing quote (a " inside quotes '
            'must be written \\"; a comment needs a space before #); nothing changed'
        )
