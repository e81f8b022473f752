"""The age header: version line, recipient stanzas and the header MAC (age.md, "Header").

Parsing is strict: every line must be exactly as the ABNF of the spec says (LF
line ends, single spaces, canonical unpadded base64, body lines of 64 columns
ending with a shorter one), so that a parsed header serialises back to the very
same bytes. The MAC is checked over those bytes.

Errors are :class:`~sealbox.exceptions.FormatError` and quote the offending line
(a header holds no secret: stanza bodies are wrapped keys). Input that does not start
with the version line's prefix is not an age header at all, and nothing of it is
quoted: it is refused with the code ``not_an_age_file``.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.hmac import HMAC

from sealbox.age._crypto import hkdf
from sealbox.age._source import Source
from sealbox.exceptions import FormatError

__all__ = [
    "COLUMNS",
    "MAC_SIZE",
    "MAX_HEADER_SIZE",
    "VERSION_LINE",
    "Header",
    "Stanza",
    "b64decode",
    "b64encode",
    "header_mac",
    "parse_header",
    "read_header",
]

VERSION_PREFIX: Final = b"age-encryption.org/"
VERSION_LINE: Final = b"age-encryption.org/v1\n"
STANZA_PREFIX: Final = b"-> "
MAC_PREFIX: Final = b"---"
COLUMNS: Final = 64
MAC_SIZE: Final = 32
HEADER_LABEL: Final = b"header"
# No real header comes near this (a post-quantum stanza is about 1.6 KB): it bounds
# what a hostile file can make the parser hold in memory.
MAX_HEADER_SIZE: Final = 16 * 1024 * 1024

_B64_ALPHABET: Final = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)


def b64encode(data: bytes) -> str:
    """Standard base64 without ``=`` padding, as every age header field is written."""
    return base64.b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str | bytes, what: str = "base64 value") -> bytes:
    """Decode canonical unpadded base64 (RFC 4648, 3.5); anything else is refused.

    Raises:
        FormatError: padding, a character outside the alphabet, an impossible
            length, or non-zero trailing bits.
    """
    raw = text.encode("ascii", "replace") if isinstance(text, str) else bytes(text)
    if not _B64_ALPHABET.issuperset(raw):
        raise FormatError(f"{what} is not unpadded base64")
    if len(raw) % 4 == 1:
        raise FormatError(f"{what} has an impossible base64 length")
    try:
        data = base64.b64decode(raw + b"=" * (-len(raw) % 4), validate=True)
    except binascii.Error:  # pragma: no cover - excluded by the checks above
        raise FormatError(f"{what} is not valid base64") from None
    if base64.b64encode(data).rstrip(b"=") != raw:
        raise FormatError(f"{what} is not canonical base64")
    return data


def _is_vchar_arg(arg: bytes) -> bool:
    return bool(arg) and all(0x21 <= c <= 0x7E for c in arg)


class _Frozen:
    """Immutable value objects with equality and a repr over ``__slots__``.

    Written out rather than made with ``dataclasses``, whose import (``inspect``,
    ``ast``) would be most of what parsing a header costs a command-line run.
    """

    __slots__ = ()

    def _fields(self) -> tuple[str, ...]:
        return type(self).__slots__

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields())

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._fields())
        return f"{type(self).__name__}({fields})"


class Stanza(_Frozen):
    """One recipient stanza: ``-> TYPE ARG...`` and a base64 body.

    Attributes:
        type: the first argument, naming the recipient type (``X25519``, ``scrypt``…).
        args: the other arguments.
        body: the decoded body (usually the wrapped file key).
    """

    __slots__ = ("type", "args", "body")  # noqa: RUF023 - field order is the repr's

    type: str
    args: tuple[str, ...]
    body: bytes

    def __init__(self, type: str, args: Sequence[str], body: bytes) -> None:  # noqa: A002
        for arg in (type, *args):
            if not arg.isascii() or not _is_vchar_arg(arg.encode()):
                raise ValueError("stanza arguments must be non-empty printable ASCII")
        object.__setattr__(self, "type", type)
        object.__setattr__(self, "args", tuple(args))
        object.__setattr__(self, "body", body)

    def to_bytes(self) -> bytes:
        """Serialise the stanza as it appears in a header (canonical form)."""
        out = [STANZA_PREFIX + " ".join((self.type, *self.args)).encode() + b"\n"]
        encoded = b64encode(self.body).encode()
        out.extend(encoded[i : i + COLUMNS] + b"\n" for i in range(0, len(encoded), COLUMNS))
        if len(encoded) % COLUMNS == 0:
            out.append(b"\n")  # the body ends with a short line, empty if need be
        return b"".join(out)


class Header(_Frozen):
    """A parsed or freshly built header.

    Attributes:
        stanzas: the recipient stanzas, in file order.
        mac: the 32-byte header MAC.
    """

    __slots__ = ("stanzas", "mac")  # noqa: RUF023 - field order is the repr's

    stanzas: tuple[Stanza, ...]
    mac: bytes

    def __init__(self, stanzas: tuple[Stanza, ...], mac: bytes) -> None:
        object.__setattr__(self, "stanzas", tuple(stanzas))
        object.__setattr__(self, "mac", mac)

    def mac_input(self) -> bytes:
        """The bytes the MAC covers: everything up to and including ``---``."""
        return mac_input(self.stanzas)

    def to_bytes(self) -> bytes:
        """Serialise the whole header, MAC line included."""
        return self.mac_input() + b" " + b64encode(self.mac).encode() + b"\n"

    def verify_mac(self, file_key: bytes) -> bool:
        """Whether the MAC matches under ``file_key`` (constant-time comparison)."""
        try:
            _hmac(file_key, self.mac_input()).verify(self.mac)
        except InvalidSignature:
            return False
        return True

    @classmethod
    def build(cls, stanzas: Sequence[Stanza], file_key: bytes) -> Header:
        """Make a header for ``stanzas`` with its MAC under ``file_key``."""
        stanzas = tuple(stanzas)
        if not stanzas:
            raise ValueError("a header needs at least one stanza")
        return cls(stanzas, header_mac(file_key, mac_input(stanzas)))


def mac_input(stanzas: Sequence[Stanza]) -> bytes:
    """Version line, stanzas and ``---``: the part of the header the MAC covers."""
    return VERSION_LINE + b"".join(s.to_bytes() for s in stanzas) + MAC_PREFIX


def header_mac(file_key: bytes, data: bytes) -> bytes:
    """HMAC-SHA-256 under ``HKDF(ikm=file key, salt=empty, info="header")``."""
    return _hmac(file_key, data).finalize()


def _hmac(file_key: bytes, data: bytes) -> HMAC:
    mac = HMAC(hkdf(file_key, b"", HEADER_LABEL), SHA256())
    mac.update(data)
    return mac


def _quote(line: bytes) -> str:
    text = line[:80].decode("ascii", "backslashreplace")
    return repr(text + ("…" if len(line) > 80 else ""))


class _LineReader:
    __slots__ = ("_budget", "_source", "consumed")

    def __init__(self, source: Source, budget: int) -> None:
        self._source = source
        self._budget = budget
        self.consumed = 0

    def line(self, what: str) -> bytes:
        """The next line without its LF; a missing LF is an error."""
        raw = self._source.readline(self._budget - self.consumed + 1)
        self.consumed += len(raw)
        if self.consumed > self._budget:
            raise FormatError(f"the age header is larger than {self._budget} bytes")
        if not raw.endswith(b"\n"):
            if not raw:
                raise FormatError(f"the age header ends early: {what} is missing")
            raise FormatError(f"the age header ends early, in {what} {_quote(raw)}")
        return raw[:-1]


def read_header(source: Source, *, max_size: int = MAX_HEADER_SIZE) -> Header:
    """Parse a header from ``source``, leaving it at the first payload byte.

    Raises:
        FormatError: the header is malformed; the message quotes the bad line.
    """
    start = source.peek(len(VERSION_PREFIX))
    if not start:
        raise FormatError(
            "the input is empty: an age file starts with 'age-encryption.org/v1'",
            code="empty_input",
            hint="check the file name, or the command that feeds the pipe",
        )
    if not start.startswith(VERSION_PREFIX):
        # Whatever this is (plaintext, another format), none of it is quoted back.
        raise FormatError(
            "not an age file: it does not start with 'age-encryption.org/v1'",
            code="not_an_age_file",
            hint="check that this is the encrypted file",
        )
    reader = _LineReader(source, max_size)
    first = reader.line("the version line")
    if first + b"\n" != VERSION_LINE:
        if first == VERSION_LINE[:-1] + b"\r":
            # Every LF became CRLF: a text-mode copy, not a newer format.
            raise FormatError(
                "the file's line ends were changed to CRLF: it was copied as text and is damaged",
                hint="copy or transfer it again as binary data (a text-mode transfer, or a "
                "shell redirection that rewrites line ends, damages it)",
                code="crlf_line_ends",
            )
        raise FormatError(
            f"unsupported age format version {_quote(first[len(VERSION_PREFIX) :])}",
            hint="this file needs a newer age implementation",
        )
    stanzas: list[Stanza] = []
    line = reader.line("the first recipient stanza")
    while True:
        if line.startswith(STANZA_PREFIX):
            stanza, line = _read_stanza(reader, line)
            stanzas.append(stanza)
            continue
        if line.startswith(MAC_PREFIX):
            return Header(tuple(stanzas), _parse_mac_line(line, stanzas))
        raise FormatError(f"malformed age header line {_quote(line)}")


def _read_stanza(reader: _LineReader, arg_line: bytes) -> tuple[Stanza, bytes]:
    parts = arg_line[len(STANZA_PREFIX) :].split(b" ")
    if not all(_is_vchar_arg(p) for p in parts):
        raise FormatError(f"malformed stanza argument line {_quote(arg_line)}")
    chunks: list[bytes] = []
    while True:
        line = reader.line("a stanza body")
        if len(line) > COLUMNS:
            raise FormatError(f"stanza body line is longer than 64 columns: {_quote(line)}")
        if chunks and line.startswith((STANZA_PREFIX, MAC_PREFIX)):
            # The body's last line was a full one: the next stanza or the MAC came too soon.
            raise FormatError(
                "a stanza body ends without a short line: its last line is 64 columns, so an "
                "empty line must follow it"
            )
        if not _B64_ALPHABET.issuperset(line):
            raise FormatError(f"stanza body line is not unpadded base64: {_quote(line)}")
        chunks.append(line)
        if len(line) < COLUMNS:
            break
    body = b64decode(b"".join(chunks), "stanza body")
    names = [p.decode("ascii") for p in parts]
    stanza = Stanza(names[0], tuple(names[1:]), body)
    return stanza, reader.line("the next stanza or the MAC line")


def _parse_mac_line(line: bytes, stanzas: list[Stanza]) -> bytes:
    if not stanzas:
        raise FormatError("the age header has no recipient stanza")
    if not line.startswith(MAC_PREFIX + b" ") or len(line) != 4 + 43:
        raise FormatError(f"malformed MAC line {_quote(line)}")
    return b64decode(line[4:], "header MAC")


def parse_header(data: bytes, *, max_size: int = MAX_HEADER_SIZE) -> tuple[Header, int]:
    """Parse a header at the start of ``data``; return it and its length in bytes.

    Raises:
        FormatError: as :func:`read_header`.
    """
    import io

    stream = io.BytesIO(data)
    source = Source(stream)
    header = read_header(source, max_size=max_size)
    return header, len(header.to_bytes())
