"""The text of the buffer ``sealbox secrets edit`` opens: values written out quoted where
they need it, and read back as python-dotenv reads a ``.env`` line.

``NAME=value``, ``NAME="with \\n escapes"`` and ``NAME='literal'`` lines (in single quotes
only ``\\\\`` and ``\\'`` are escapes, as there); ``#`` after whitespace, or right after a
closing quote, starts a comment; a byte order mark an editor saved at the start is dropped,
as the secrets file's own reader drops it. A line python-dotenv would read otherwise (a
quoted value over several lines, a bare name) is refused, never read as another value.
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
# The escapes python-dotenv decodes: in double quotes these, in single quotes \\ and \' only.
# Any other backslash is kept as written.
_ESCAPES = {
    "\\": "\\", "'": "'", '"': '"', "a": "\a", "b": "\b", "f": "\f",
    "n": "\n", "r": "\r", "t": "\t", "v": "\v",
}  # fmt: skip
_SINGLE_ESCAPES = {"\\": "\\", "'": "'"}


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
        name = _EXPORT.sub("", name.strip(), count=1).strip()
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
    if not text.startswith(("'", '"')):
        return _COMMENT.split(text, maxsplit=1)[0]
    quote_char = text[0]
    escapes = _SINGLE_ESCAPES if quote_char == "'" else _ESCAPES
    out, i = [], 1
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in escapes:
            out.append(escapes[text[i + 1]])
            i += 2
            continue
        if c == quote_char:
            _after_quotes(text[i + 1 :], number)
            return "".join(out)
        out.append(c)
        i += 1
    raise SecretSourceError(f"edited file, line {number}: unterminated quotes; nothing changed")


# Whitespace then `#`: the rest of the line is a comment (python-dotenv's rule).
_COMMENT: Final = re.compile(r"\s+#")
# `export` and whitespace before a name, as python-dotenv skips it.
_EXPORT: Final = re.compile(r"^export\s+")


def _after_quotes(rest: str, number: int) -> None:
    """What follows a closing quote: nothing, or a comment (after a quoted value
    python-dotenv needs no space before its ``#``)."""
    if rest.strip() and not rest.lstrip().startswith("#"):
        raise SecretSourceError(
            f"edited file, line {number}: text after the closing quote (a quote inside "
            "quotes is written with a backslash before it: \\\" or \\'); nothing changed"
        )
