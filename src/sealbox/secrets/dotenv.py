"""Secrets from a ``.env`` file, parsed by python-dotenv.

The file is read once, when the source is made (``reload()`` reads it again).
Variable interpolation (``${OTHER}``) is off: a value is exactly what the file
says, and a secret cannot pull in another variable by accident. A line that
python-dotenv cannot parse is an error naming the file and line, not a warning, and so
is a value holding a NUL character (which no environment variable can carry).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from sealbox._util.files import read_limited
from sealbox.exceptions import ExtraNotInstalledError, SecretSourceError, StorageError
from sealbox.secret import Secret
from sealbox.secrets.base import check_name, handed_out, utf8_text, without_locals

__all__ = ["DotenvSource"]

MAX_FILE_SIZE = 4 * 1024 * 1024


class DotenvSource:
    """Read secrets from a ``.env`` file.

    Args:
        path: the file.
        required: if false, a missing file is an empty source instead of an error.

    Raises:
        SecretSourceError: the file is missing (when required), unreadable, has a
            line that cannot be parsed or a value holding a NUL character (code
            ``dotenv_nul``), or defines a name twice.
        ExtraNotInstalledError: python-dotenv is not installed.
    """

    def __init__(self, path: str | os.PathLike[str] = ".env", *, required: bool = True) -> None:
        self.path = Path(path)
        self.required = required
        self._values: dict[str, str] = {}
        self.reload()

    @property
    def label(self) -> str:
        return f".env file {self.path}"

    def reload(self) -> None:
        """Read the file again."""
        try:
            from dotenv.parser import parse_stream
        except ImportError:
            raise ExtraNotInstalledError("settings", "python-dotenv") from None
        if not self.path.exists() and not self.required:
            self._values = {}
            return
        try:
            raw = read_limited(self.path, MAX_FILE_SIZE, ".env file")
        except StorageError as exc:
            raise SecretSourceError(str(exc)) from None
        try:
            values = _parse(self.path, raw, parse_stream)
        except SecretSourceError as exc:
            # Raised from here, not from the frames that parsed: their locals (which error
            # reporters such as Sentry show by default) and a UnicodeDecodeError it was
            # raised while handling hold the file's text, every value in it.
            error = without_locals(exc)
        else:
            self._values = values
            return
        del raw
        raise error

    def lookup(self, name: str) -> Secret[str] | None:
        value = self._values.get(name)
        return None if value is None else handed_out(value)

    def names(self) -> list[str]:
        return sorted(self._values)

    def __repr__(self) -> str:
        return f"DotenvSource({str(self.path)!r}, names={len(self._values)})"


def _parse(
    path: Path, raw: bytes, parse_stream: Callable[[IO[str]], Iterator[Any]]
) -> dict[str, str]:
    """The names and values of a ``.env`` file's bytes.

    Raises:
        SecretSourceError: as :meth:`DotenvSource.reload` says.
    """
    text = utf8_text(path, raw)
    values: dict[str, str] = {}
    seen_at: dict[str, int] = {}
    # newline=None: \r\n and \r become \n, as in the text-mode file python-dotenv
    # reads, so a quoted value over several lines keeps no \r from a Windows editor.
    for binding in parse_stream(io.StringIO(text, newline=None)):
        line = binding.original.line
        if binding.error:
            raise SecretSourceError(f"{path}:{line}: cannot parse this line")
        if binding.key is None:
            continue  # blank line or comment
        # A wrapped value's second line parses as a bare name: never quote it back.
        check_name(binding.key, f"{path}:{line}", show=False)
        if binding.value is None:
            continue  # a bare NAME: python-dotenv gives it no value, nor does this source
        if "\0" in binding.value:
            # No environment variable or argument can carry it: refused here, not
            # when a subprocess or os.environ chokes on it, far from the file.
            raise SecretSourceError(
                f"{path}:{line}: the value of {binding.key} holds a NUL character",
                hint="remove the NUL character from the value in the file",
                code="dotenv_nul",
                facts={"path": str(path), "line": str(line), "name": binding.key},
            )
        if binding.key in seen_at:
            raise SecretSourceError(
                f"{path}:{line}: {binding.key} is already defined on line {seen_at[binding.key]}"
            )
        seen_at[binding.key] = line
        values[binding.key] = binding.value
    return values
