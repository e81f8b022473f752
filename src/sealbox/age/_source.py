"""A byte source with look-ahead: lines for the header, then bulk reads for the payload."""

from __future__ import annotations

import io
import os
from typing import Protocol

from sealbox.exceptions import ConfigError


class Readable(Protocol):
    """What sealbox needs from an input: ``read`` (``readinto`` is used when present)."""

    def read(self, size: int = -1, /) -> bytes: ...


_BLOCK = 64 * 1024


class TextModeFileError(ConfigError, TypeError):
    """A file object in text mode where bytes are read or written.

    A ``TypeError`` (misuse of the API) and a :class:`~sealbox.exceptions.ConfigError`
    with code ``text_mode_file``; ``facts["mode"]`` is the mode it should be opened in.
    """

    code = "text_mode_file"


def refuse_text_mode(file: object, mode: str = "rb") -> None:
    """Refuse a text-mode file object (``open(path)``, ``io.StringIO``): sealbox reads
    and writes bytes. ``mode``: the binary mode to say (``"rb"``, ``"wb"``)."""
    if isinstance(file, io.TextIOBase):
        raise _text_mode(mode)
    if isinstance(file, str | bytes | bytearray | memoryview | os.PathLike):
        # Caught here, before any work, rather than as a bare AttributeError on .read.
        raise TypeError(
            f"give a binary file object (open(path, {mode!r})), not {type(file).__name__}: "
            "for paths use sealbox.age.encrypt_file / decrypt_file, for bytes in memory "
            "encrypt / decrypt (or wrap them in io.BytesIO)"
        )


def _text_mode(mode: str) -> TextModeFileError:
    return TextModeFileError(
        f"the file object is in text mode, and age reads and writes bytes: open it in binary "
        f"mode ({mode!r})",
        hint=f"open the file with open(path, {mode!r}), or give an io.BytesIO",
        facts={"mode": mode},
    )


class Source:
    """Wraps a binary file object; bytes read ahead for line parsing are served first."""

    __slots__ = ("_ahead", "_raw", "_readinto")

    def __init__(self, raw: Readable) -> None:
        refuse_text_mode(raw, "rb")
        self._raw = raw
        self._ahead = bytearray()
        readinto = getattr(raw, "readinto", None)
        self._readinto = readinto if callable(readinto) else None

    def _read_block(self, size: int) -> bytes:
        data = self._raw.read(size)
        if data is None:  # a non-blocking stream with nothing ready
            raise BlockingIOError("the input is in non-blocking mode")
        got: object = data  # typed bytes; a text stream that is no io.TextIOBase gives str
        if isinstance(got, str):
            raise _text_mode("rb")
        return bytes(data)

    @property
    def raw(self) -> Readable:
        """The wrapped file object."""
        return self._raw

    def buffered(self) -> int:
        """How many bytes were read from the file ahead of what was consumed."""
        return len(self._ahead)

    def drop_buffered(self) -> None:
        """Forget the bytes read ahead (the file was read past them directly)."""
        self._ahead.clear()

    def peek(self, size: int) -> bytes:
        """Return up to ``size`` bytes without consuming them (fewer only at end of input)."""
        while len(self._ahead) < size:
            block = self._read_block(max(_BLOCK, size - len(self._ahead)))
            if not block:
                break
            self._ahead += block
        return bytes(self._ahead[:size])

    def readline(self, limit: int) -> bytes:
        """Return the next line with its ``\\n``, at most ``limit`` bytes (less at end of input)."""
        start = 0
        while True:
            pos = self._ahead.find(b"\n", start, limit)
            if pos >= 0:
                line = bytes(self._ahead[: pos + 1])
                del self._ahead[: pos + 1]
                return line
            if len(self._ahead) >= limit:
                line = bytes(self._ahead[:limit])
                del self._ahead[:limit]
                return line
            start = len(self._ahead)
            block = self._read_block(_BLOCK)
            if not block:
                line = bytes(self._ahead)
                self._ahead.clear()
                return line
            self._ahead += block

    def read(self, size: int) -> bytes:
        """Read exactly ``size`` bytes, fewer only at end of input."""
        buf = bytearray(size)
        return bytes(buf[: self.readinto_full(memoryview(buf))])

    def readinto_full(self, buf: memoryview) -> int:
        """Fill ``buf`` as far as the input allows; return the count (short only at EOF)."""
        size = len(buf)
        n = 0
        if self._ahead:
            n = min(size, len(self._ahead))
            buf[:n] = self._ahead[:n]
            del self._ahead[:n]
        readinto = self._readinto
        while n < size:
            if readinto is not None:
                got = readinto(buf[n:])
                if got is None:
                    raise BlockingIOError("the input is in non-blocking mode")
            else:
                block = self._read_block(size - n)
                got = len(block)
                buf[n : n + got] = block
            if not got:
                break
            n += got
        return n
