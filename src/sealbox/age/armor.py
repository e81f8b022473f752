"""ASCII armor for age files (age.md, "ASCII armor"): strict PEM, RFC 7468 section 3.

``-----BEGIN AGE ENCRYPTED FILE-----``, the file in padded standard base64 at
64 columns, ``-----END AGE ENCRYPTED FILE-----``. Reading is strict, so that an
armored file cannot be altered without changing its bytes: no PEM headers, no
whitespace inside or around lines, every line but the last exactly 64 columns,
canonical padding. Only whitespace before and after the block is allowed (space,
tab, CR, LF, vertical tab and form feed, as age strips them), and CRLF line ends as
well as LF.

Errors are :class:`~sealbox.exceptions.FormatError` starting with
``invalid armor``.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Final

from sealbox.age._source import Readable, Source
from sealbox.age.stream import Writable
from sealbox.exceptions import FormatError

__all__ = ["BEGIN", "END", "ArmorReader", "ArmorWriter", "is_armored"]

BEGIN: Final = b"-----BEGIN AGE ENCRYPTED FILE-----"
END: Final = b"-----END AGE ENCRYPTED FILE-----"
COLUMNS: Final = 64
BYTES_PER_LINE: Final = 48
# ASCII whitespace, as age's bytes.TrimSpace strips it: vertical tab and form feed too.
_WHITESPACE: Final = b" \t\r\n\x0b\x0c"
# Whitespace allowed around the block: bounded, so a hostile input cannot make us scan forever.
MAX_OUTER_WHITESPACE: Final = 1024 * 1024
_FULL_LINES = re.compile(rb"(?:[A-Za-z0-9+/]{64}\r?\n)+")
_LAST_LINE = re.compile(rb"[A-Za-z0-9+/]{1,64}={0,2}")
_BLOCK: Final = 256 * 1024


def is_armored(start: bytes) -> bool:
    """Whether data starting with ``start`` should be read as an armored age file.

    True when it starts (after whitespace) with ``-----``, or when it is not a
    binary age file but holds the BEGIN line further on: then the armor reader
    reports precisely what is wrong with it.
    """
    stripped = start.lstrip(_WHITESPACE)
    if stripped.startswith(b"-----"):
        return True
    return not stripped.startswith(b"age-encryption.org/") and BEGIN in start


class ArmorWriter:
    """Writes armored bytes to ``dst``. :meth:`close` writes the end line (not closing ``dst``)."""

    def __init__(self, dst: Writable) -> None:
        self._dst = dst
        self._pending = bytearray()
        self._last_full = True  # whether the last written line was a full one (or none)
        self._closed = False
        dst.write(BEGIN + b"\n")

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Encode ``data``; whole lines are written at once."""
        if self._closed:
            raise ValueError("write to a closed armor writer")
        self._pending += data
        whole = len(self._pending) // BYTES_PER_LINE * BYTES_PER_LINE
        if whole:
            self._emit(bytes(self._pending[:whole]))
            del self._pending[:whole]
        return len(data)

    def _emit(self, data: bytes) -> None:
        encoded = base64.b64encode(data)
        lines = [encoded[i : i + COLUMNS] for i in range(0, len(encoded), COLUMNS)]
        self._dst.write(b"\n".join(lines) + b"\n")
        self._last_full = len(lines[-1]) == COLUMNS

    def flush(self) -> None:
        """Nothing to do: whole lines are written as soon as they are complete."""

    def close(self) -> None:
        """Write the last line and the end line."""
        if self._closed:
            return
        self._closed = True
        if self._pending:
            self._emit(bytes(self._pending))
            self._pending.clear()
        self._dst.write(END + b"\n")


def _err(message: str) -> FormatError:
    return FormatError(f"invalid armor: {message}")


class ArmorReader:
    """Reads the bytes inside an armored file, checking the armor strictly as it goes."""

    def __init__(self, src: Source | Readable) -> None:
        self._src = src if isinstance(src, Source) else Source(src)
        self._started = False
        self._ended = False
        self._out = bytearray()
        self._raw = bytearray()
        self._eof = False

    def _skip_leading(self) -> None:
        skipped = 0
        while True:
            head = self._src.peek(4096)
            stripped = head.lstrip(_WHITESPACE)
            skipped += len(head) - len(stripped)
            self._src.read(len(head) - len(stripped))
            if stripped or not head:
                break
            if skipped > MAX_OUTER_WHITESPACE:
                raise _err("too much whitespace before the armor")
        line = self._src.readline(len(BEGIN) + 2)
        if line not in (BEGIN + b"\n", BEGIN + b"\r\n"):
            if line.rstrip(b"\r\n").lower() == BEGIN.lower() and line.startswith(b"-----BEGIN"):
                raise _err("the BEGIN line has the wrong case")
            raise _err(f"the first line is not {BEGIN.decode()!r}")
        self._started = True

    def _fill_raw(self) -> None:
        if not self._eof:
            block = self._src.read(_BLOCK)
            if len(block) < _BLOCK:
                self._eof = True
            self._raw += block

    def _decode_some(self) -> None:
        """Decode the next lines into ``self._out``; at the end line, check what follows."""
        while not self._out and not self._ended:
            if b"\n" not in self._raw and not self._eof:
                if len(self._raw) > COLUMNS + 2:
                    # One line, already too long: reading on for its end would hold
                    # (and rescan) all of a hostile input.
                    raise _err("a line is longer than 64 columns")
                self._fill_raw()
                continue
            match = _FULL_LINES.match(self._raw)
            if match:
                lines = bytes(self._raw[: match.end()])
                del self._raw[: match.end()]
                self._out += base64.b64decode(lines.replace(b"\r\n", b"").replace(b"\n", b""))
                continue
            self._special_line()

    def _next_line(self) -> tuple[bytes, bool]:
        """The next line without its end, and whether it had one."""
        while b"\n" not in self._raw and not self._eof:
            if len(self._raw) > COLUMNS + 2:
                raise _err("a line is longer than 64 columns")
            self._fill_raw()
        pos = self._raw.find(b"\n")
        if pos < 0:
            line = bytes(self._raw)
            self._raw.clear()
            return line, False
        line = bytes(self._raw[:pos])
        del self._raw[: pos + 1]
        if line.endswith(b"\r"):
            line = line[:-1]
        return line, True

    def _special_line(self) -> None:
        line, had_eol = self._next_line()
        if line == END:
            self._finish()
            return
        if not had_eol and not line:
            raise _err("the end line is missing")
        if len(line) > COLUMNS:
            raise _err("a line is longer than 64 columns")
        if not _LAST_LINE.fullmatch(line):
            if not line:
                raise _err("unexpected empty line")
            raise _err("a line holds characters outside base64 (or whitespace)")
        if len(line) % 4:
            raise _err("the last line is not padded")
        try:
            data = base64.b64decode(line, validate=True)
        except binascii.Error:
            raise _err("the last line is not valid base64") from None
        if base64.b64encode(data) != line:
            raise _err("the last line is not canonical base64")
        end, _ = self._next_line()
        if end != END:
            if len(line) < COLUMNS or b"=" in line:
                raise _err("a short line that is not followed by the end line")
            raise _err("the end line is missing")  # pragma: no cover - full lines go the fast way
        self._out += data
        self._finish()

    def _finish(self) -> None:
        self._ended = True
        seen = 0
        while True:
            if self._raw.strip(_WHITESPACE):
                raise _err("data after the end line")
            seen += len(self._raw)
            self._raw.clear()
            if self._eof:
                return
            if seen > MAX_OUTER_WHITESPACE:
                raise _err("too much whitespace after the armor")
            self._fill_raw()

    def readinto(self, buf: bytearray | memoryview) -> int:
        """Fill ``buf`` with decoded bytes; 0 after the end line."""
        if not self._started:
            self._skip_leading()
        if not self._out:
            self._decode_some()
        out = memoryview(buf).cast("B")
        n = min(len(out), len(self._out))
        out[:n] = self._out[:n]
        del self._out[:n]
        return n

    def read(self, size: int = -1) -> bytes:
        """Return up to ``size`` decoded bytes (all of them if negative)."""
        if size is None or size < 0:
            chunks = []
            while chunk := self.read(_BLOCK):
                chunks.append(chunk)
            return b"".join(chunks)
        buf = bytearray(size)
        n = self.readinto(buf)
        return bytes(buf[:n])
