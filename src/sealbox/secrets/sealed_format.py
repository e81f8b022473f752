"""The bytes of an encrypted secrets file: parsing, the trailer, and the value envelope.

Version 2 (what sealbox writes)::

    # sealbox-secrets/2: values are age-encrypted; edit with `sealbox secrets`
    # recipient: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p
    API_TOKEN=YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSB…
    DB_PASSWORD=YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSB…
    # sealbox-secrets-end: 2 secrets, sha256:9f86d081884c7d65…

- **The trailer** is the last line. It counts the secrets and holds the SHA-256 of
  the file's content in a canonical form (format, recipients, names and ciphertexts).
  A file cut short (no trailer), or missing a line, or with a line changed outside
  sealbox, no longer matches it and is refused. It is a checksum, not a signature:
  anyone who can write the file can compute it, so it catches accidents (a truncated
  copy, a bad merge, a lost line) and not a deliberate edit.
- **Each value** is an age file whose plaintext starts with
  ``sealbox-secret/2 NAME RECIPIENTS\\n`` — the secret's name and the SHA-256 of the
  recipient list it was encrypted to — followed by the value. A value moved to another
  name is refused; and an identity holder who opens a value notices when the header's
  recipient list is no longer the one the value was sealed for, which is what a
  committer who swaps in their own recipient would have to change.

Version 1 files (no trailer; ``sealbox-secret/1 NAME\\n`` plaintexts) are read and
written back as version 2. Values sealed under version 1 carry no recipient list, so
they cannot reveal a changed header until they are set again or rotated.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sealbox import age
from sealbox.age.armor import ArmorReader
from sealbox.exceptions import ConfigError, FormatError, SealboxError, SecretSourceError
from sealbox.secrets.base import NAME_PATTERN, utf8_text

__all__ = [
    "FORMAT",
    "FORMAT_LINE",
    "Parsed",
    "parse",
    "recipients_digest",
    "render",
    "seal_plaintext",
    "split_plaintext",
]

FORMAT: Final = "sealbox-secrets/2"
FORMAT_V1: Final = "sealbox-secrets/1"
FORMAT_LINE: Final = f"# {FORMAT}: values are age-encrypted; edit with `sealbox secrets`"
TRAILER: Final = "# sealbox-secrets-end:"
_PLAINTEXT_V1: Final = b"sealbox-secret/1 "
_PLAINTEXT_V2: Final = b"sealbox-secret/2 "
_RECIPIENT: Final = re.compile(r"#\s*recipient:\s*(?P<r>\S.*?)\s*$")
_ASSIGN: Final = re.compile(r"(?P<name>[^=\s]+)=(?P<value>.*)$")
_TRAILER: Final = re.compile(
    r"# sealbox-secrets-end: (?P<count>\d+) secrets?, sha256:(?P<digest>[0-9a-f]{64})$"
)


@dataclass
class Entry:
    """One secret as the file holds it."""

    name: str
    ciphertext: bytes
    line: int


@dataclass
class Parsed:
    """What a file holds, and the format version it was written in."""

    version: int
    recipients: list[str]
    entries: dict[str, Entry]


def recipients_digest(recipients: Iterable[str]) -> str:
    """The SHA-256 (hex) of a recipient list, order and repetition aside."""
    canonical = "\n".join(sorted(set(recipients))).encode()
    return hashlib.sha256(canonical).hexdigest()


def seal_plaintext(name: str, recipients: Iterable[str], value: str) -> bytes:
    """The age plaintext of a value: its name and recipient list, then the value.

    Raises:
        ConfigError: the value holds a lone surrogate (code ``bad_value``).
        TypeError: the value is not a ``str``.
    """
    if not isinstance(value, str):
        raise TypeError(f"the value of {name} must be a str, not {type(value).__name__}")
    try:
        encoded = value.encode()
    except UnicodeEncodeError:  # its message would quote a character of the value
        raise ConfigError(
            f"the value of {name} is not valid Unicode text: it holds a lone surrogate",
            hint="decode the value's bytes as UTF-8 before storing it",
            code="bad_value",
            facts={"name": name},
        ) from None
    return (
        _PLAINTEXT_V2
        + name.encode()
        + b" "
        + recipients_digest(recipients).encode()
        + b"\n"
        + encoded
    )


def split_plaintext(plain: bytes, name: str) -> tuple[bytes, str | None] | None:
    """``(value bytes, recipients digest or None for version 1)``; ``None`` if for another name."""
    first, sep, rest = plain.partition(b"\n")
    if not sep:
        return None
    if first.startswith(_PLAINTEXT_V2):
        fields = first[len(_PLAINTEXT_V2) :].split(b" ")
        if len(fields) == 2 and fields[0] == name.encode():
            return rest, fields[1].decode("ascii", "replace")
        return None
    if first == _PLAINTEXT_V1 + name.encode():
        return rest, None
    return None


def _canonical(recipients: list[str], entries: Mapping[str, Entry]) -> bytes:
    lines = [FORMAT, *(f"recipient {r}" for r in recipients)]
    lines += [f"{n}={base64.b64encode(entries[n].ciphertext).decode()}" for n in sorted(entries)]
    return ("\n".join(lines) + "\n").encode()


def _trailer(recipients: list[str], entries: Mapping[str, Entry]) -> str:
    digest = hashlib.sha256(_canonical(recipients, entries)).hexdigest()
    count = len(entries)
    return f"{TRAILER} {count} secret{'' if count == 1 else 's'}, sha256:{digest}"


def render(recipients: list[str], entries: Mapping[str, Entry]) -> bytes:
    """The bytes of a version 2 file: format line, recipients, sorted values, trailer."""
    lines = [FORMAT_LINE, *(f"# recipient: {r}" for r in recipients)]
    lines += [f"{n}={base64.b64encode(entries[n].ciphertext).decode()}" for n in sorted(entries)]
    lines.append(_trailer(recipients, entries))
    return ("\n".join(lines) + "\n").encode()


def check_recipients(recipients: Iterable[str]) -> list[str]:
    """The recipients, stripped, checked and without repeats.

    Raises:
        FormatError: none given, or one that is not a valid age or SSH recipient.
    """
    if isinstance(recipients, str):
        raise TypeError("give a list of recipient strings, not one str")
    recipients = list(recipients)
    for r in recipients:
        if not isinstance(r, str):
            raise TypeError(f"a recipient is given as a str (age1…), not {type(r).__name__}")
    listed = [r.strip() for r in recipients if r.strip()]
    if not listed:
        raise FormatError("a secrets file needs at least one recipient")
    for i, r in enumerate(listed):
        parsed = age.parse_recipient(r)
        if "\n" in r:  # a PEM public key: the header holds one line, its ssh-… form
            listed[i] = str(parsed)
    return list(dict.fromkeys(listed))


def parse(path: Path, data: bytes, *, check_trailer: bool = True) -> Parsed:
    """Parse a file of either version.

    Raises:
        SecretSourceError: not UTF-8, a malformed line, a duplicate name, an unknown
            recipient, or (version 2) a missing or mismatching trailer.
    """
    # A byte order mark is what some Windows editors put first; python-dotenv skips it too.
    text = utf8_text(path, data).removeprefix("\ufeff")
    lines = [line.rstrip("\r") for line in text.split("\n")]
    version = _version(path, lines[0])
    recipients: list[str] = []
    entries: dict[str, Entry] = {}
    trailer: tuple[int, re.Match[str]] | None = None
    i = 1
    while i < len(lines):
        number, line = i + 1, lines[i]
        i += 1
        stripped = line.strip()
        if not stripped:
            continue
        if trailer is not None:
            raise SecretSourceError(
                f"{path}:{number}: a line after the trailer (line {trailer[0]}); "
                "the file was changed outside sealbox"
            )
        if stripped.startswith(TRAILER):
            m = _TRAILER.match(stripped)
            if m is None:
                raise SecretSourceError(f"{path}:{number}: malformed trailer line")
            trailer = (number, m)
            continue
        if stripped.startswith("#"):
            recipient = _recipient_line(path, number, stripped)
            if recipient:
                recipients.append(recipient)
            continue
        name, ciphertext, i = _assignment(path, lines, i, entries)
        entries[name] = Entry(name, ciphertext, number)
    if not recipients:
        raise SecretSourceError(f"{path}: no '# recipient:' line in the header")
    if version == 2 and check_trailer:
        _check_trailer(path, trailer, recipients, entries)
    return Parsed(version, recipients, entries)


def _version(path: Path, first: str) -> int:
    if first.startswith(f"# {FORMAT}"):
        return 2
    if first.startswith(f"# {FORMAT_V1}"):
        return 1
    raise SecretSourceError(
        f"{path}:1: not a sealbox secrets file (the first line must start with '# {FORMAT}')"
    )


def _check_trailer(
    path: Path,
    trailer: tuple[int, re.Match[str]] | None,
    recipients: list[str],
    entries: dict[str, Entry],
) -> None:
    hint = (
        "restore the file from version control; if you merged or edited it by hand and "
        f"checked the result, 'sealbox secrets accept {path}' writes a new trailer"
    )
    if trailer is None:
        raise SecretSourceError(
            f"{path} is damaged: its last line, the trailer, is missing (cut short?)", hint=hint
        )
    _, m = trailer
    count = int(m["count"])
    if count != len(entries):
        raise SecretSourceError(
            f"{path} is damaged: the trailer counts {count} secrets, the file holds {len(entries)}",
            hint=hint,
        )
    digest = hashlib.sha256(_canonical(recipients, entries)).hexdigest()
    if digest != m["digest"]:
        raise SecretSourceError(
            f"{path} is damaged: its content does not match its trailer (a line was "
            "changed outside sealbox)",
            hint=hint,
        )


def _assignment(
    path: Path, lines: list[str], i: int, entries: dict[str, Entry]
) -> tuple[str, bytes, int]:
    """Line ``i`` (1-based) is ``NAME=VALUE``: return the name, the ciphertext, the next index."""
    number, line = i, lines[i - 1]
    m = _ASSIGN.match(line)
    if m is None:
        raise SecretSourceError(f"{path}:{number}: expected NAME=VALUE")
    name, value = m["name"], m["value"].strip()
    if not NAME_PATTERN.fullmatch(name):
        # Not quoted back: a line that is no NAME=VALUE may be a value, or key material
        # (the last line of a PEM body ends in "="), pasted in by a hand merge.
        raise SecretSourceError(
            f"{path}:{number}: invalid secret name (letters, digits and _, not starting "
            "with a digit)"
        )
    if name in entries:
        raise SecretSourceError(
            f"{path}:{number}: {name} is already defined on line {entries[name].line}"
        )
    where = f"{path}:{number}"
    if value.startswith('"'):
        ciphertext, i = _quoted_value(where, name, value, lines, i)
    else:
        ciphertext = _base64_value(where, name, value)
    return name, ciphertext, i


def _recipient_line(path: Path, number: int, line: str) -> str | None:
    m = _RECIPIENT.match(line)
    if m is None:
        return None
    try:
        age.parse_recipient(m["r"])
    except SealboxError as exc:
        raise SecretSourceError(f"{path}:{number}: bad recipient: {exc}") from None
    return m["r"]


def _quoted_value(where: str, name: str, value: str, lines: list[str], i: int) -> tuple[bytes, int]:
    """An armored value in double quotes, possibly over several lines; returns (bytes, next i)."""
    parts = [value[1:]]
    while not parts[-1].endswith('"'):
        if i >= len(lines):
            raise SecretSourceError(f"{where}: unterminated quoted value for {name}")
        parts.append(lines[i])
        i += 1
    armored = "\n".join(parts)[:-1].replace("\\n", "\n")
    try:
        return ArmorReader(io.BytesIO(armored.encode())).read(), i
    except FormatError as exc:
        raise SecretSourceError(f"{where}: {name}: {exc}") from None


def _base64_value(where: str, name: str, value: str) -> bytes:
    try:
        ciphertext = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SecretSourceError(f"{where}: the value of {name} is not base64") from None
    if not ciphertext:
        raise SecretSourceError(f"{where}: {name} has an empty value")
    return ciphertext
