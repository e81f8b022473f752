"""The encrypted secrets file: dotenv syntax, every value an age ciphertext.

A file anyone with the repository can extend, only holders of an identity can
read, and whose diffs show which name changed::

    # sealbox-secrets/1: values are age-encrypted; edit with `sealbox secrets`
    # recipient: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p
    # recipient: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO… alice@laptop
    API_TOKEN=YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSB…
    DB_PASSWORD=YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSB…

- The first line names the format. ``# recipient:`` lines list who every value is
  encrypted to; other ``#`` lines and blank lines are comments and are kept.
- Each value is the standard base64 (one line) of a binary age file, or an
  armored age file in double quotes (``NAME="-----BEGIN AGE ENCRYPTED FILE-----…"``
  over several lines). sealbox writes base64 and sorts names.
- The age plaintext is ``sealbox-secret/1 NAME\\n`` followed by the value's UTF-8
  bytes: a value moved to another name is refused, so someone who can edit the
  file cannot make ``DB_PASSWORD`` appear as ``LOG_LEVEL``.
- Setting a value needs only the recipients; reading needs an identity.

Errors name the file and the line. Writes replace the file atomically; a failed
operation leaves it as it was.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sealbox import age
from sealbox._files import atomic_write, read_limited
from sealbox.age.armor import ArmorReader
from sealbox.exceptions import (
    DecryptionError,
    FormatError,
    NoIdentityMatchError,
    SealboxError,
    SecretSourceError,
    StorageError,
)
from sealbox.secret import Secret
from sealbox.secrets.base import NAME_PATTERN, check_name

__all__ = ["FORMAT_LINE", "SealedFile", "SealedFileSource"]

FORMAT = "sealbox-secrets/1"
FORMAT_LINE = f"# {FORMAT}: values are age-encrypted; edit with `sealbox secrets`"
_PLAINTEXT_PREFIX = b"sealbox-secret/1 "
_RECIPIENT = re.compile(r"#\s*recipient:\s*(?P<r>\S.*?)\s*$")
_ASSIGN = re.compile(r"(?P<name>[^=\s]+)=(?P<value>.*)$")
MAX_FILE_SIZE = 16 * 1024 * 1024


@dataclass
class _Entry:
    name: str
    ciphertext: bytes
    line: int


class SealedFile:
    """An encrypted secrets file in memory. Load it, change it, :meth:`save` it."""

    def __init__(self, path: Path, recipients: list[str], entries: dict[str, _Entry]) -> None:
        self.path = path
        self._recipients = recipients
        self._entries = entries

    def __repr__(self) -> str:
        return f"SealedFile({str(self.path)!r}, names={len(self._entries)})"

    # -- construction ---------------------------------------------------------------

    @classmethod
    def create(cls, path: str | os.PathLike[str], recipients: Iterable[str]) -> SealedFile:
        """A new, empty file for ``recipients`` (not written until :meth:`save`).

        Raises:
            FormatError: no recipients, or one that is not a valid age recipient.
        """
        listed = _check_recipients(recipients)
        return cls(Path(path), listed, {})

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SealedFile:
        """Read and check a file (no identity is needed).

        Raises:
            SecretSourceError: missing or unreadable file, or a malformed line, a
                duplicate name, an unknown recipient (the message names file and line).
        """
        path = Path(path)
        try:
            data = read_limited(path, MAX_FILE_SIZE, "secrets file")
        except StorageError as exc:
            raise SecretSourceError(str(exc)) from None
        return cls(path, *_parse(path, data))

    # -- reading --------------------------------------------------------------------

    @property
    def recipients(self) -> list[str]:
        """The recipients every value is encrypted to, as written in the file."""
        return list(self._recipients)

    def names(self) -> list[str]:
        """The names of the secrets, sorted."""
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def get(self, name: str, identities: Sequence[age.Identity]) -> Secret[str]:
        """Decrypt one value.

        Raises:
            SecretSourceError: no such name, no identity matches, the value was
                altered, or it was sealed for another name.
        """
        entry = self._entries.get(name)
        if entry is None:
            raise SecretSourceError(f"{self.path}: no secret named {name}")
        return Secret(self._open(entry, identities))

    def decrypt_all(self, identities: Sequence[age.Identity]) -> dict[str, Secret[str]]:
        """Decrypt every value (in name order)."""
        return {n: self.get(n, identities) for n in self.names()}

    def _open(self, entry: _Entry, identities: Sequence[age.Identity]) -> str:
        where = f"{self.path}:{entry.line}"
        try:
            plain = age.decrypt(entry.ciphertext, identities)
        except NoIdentityMatchError:
            raise SecretSourceError(
                f"{where}: no identity can decrypt {entry.name}",
                hint="use an identity whose recipient is listed in the file's header",
            ) from None
        except DecryptionError:
            raise SecretSourceError(
                f"{where}: {entry.name} cannot be decrypted: the value was altered"
            ) from None
        except FormatError as exc:
            raise SecretSourceError(f"{where}: {entry.name} is not an age file ({exc})") from None
        prefix = _PLAINTEXT_PREFIX + entry.name.encode() + b"\n"
        if not plain.startswith(prefix):
            raise SecretSourceError(
                f"{where}: the value of {entry.name} was sealed for another name "
                "(moved or copied from another line)"
            )
        try:
            return plain[len(prefix) :].decode()
        except UnicodeDecodeError:
            raise SecretSourceError(f"{where}: {entry.name} is not UTF-8 text") from None

    # -- changing -------------------------------------------------------------------

    def set(self, name: str, value: str | Secret[str]) -> None:
        """Encrypt ``value`` to the file's recipients under ``name`` (no identity needed)."""
        check_name(name, str(self.path))
        text = value.expose_secret() if isinstance(value, Secret) else value
        line = self._entries[name].line if name in self._entries else 0
        self._entries[name] = _Entry(name, self._seal(name, text), line)

    def remove(self, name: str) -> None:
        """Delete a secret.

        Raises:
            SecretSourceError: no such name.
        """
        if self._entries.pop(name, None) is None:
            raise SecretSourceError(f"{self.path}: no secret named {name}")

    def rotate(self, identities: Sequence[age.Identity], recipients: Iterable[str]) -> None:
        """Re-encrypt every value to new recipients (decrypting all of them first).

        Nothing changes unless every value decrypts.
        """
        new_recipients = _check_recipients(recipients)
        values = {n: self._open(e, identities) for n, e in self._entries.items()}
        self._recipients = new_recipients
        self._entries = {n: _Entry(n, self._seal(n, v), 0) for n, v in values.items()}

    def replace_values(
        self, values: Mapping[str, str], identities: Sequence[age.Identity]
    ) -> list[str]:
        """Make the file hold exactly ``values``; return the names that changed.

        Values that did not change keep their ciphertext, so the file's diff shows
        only what was edited.
        """
        for name in values:
            check_name(name, str(self.path))
        current = {n: self._open(e, identities) for n, e in self._entries.items()}
        changed = sorted(
            {n for n in values if current.get(n) != values[n]} | (set(current) - set(values))
        )
        entries = {}
        for name, value in values.items():
            old = self._entries.get(name)
            if old is not None and current[name] == value:
                entries[name] = old
            else:
                entries[name] = _Entry(name, self._seal(name, value), 0)
        self._entries = entries
        return changed

    def _seal(self, name: str, value: str) -> bytes:
        plain = _PLAINTEXT_PREFIX + name.encode() + b"\n" + value.encode()
        return age.encrypt(plain, [age.parse_recipient(r) for r in self._recipients])

    # -- writing --------------------------------------------------------------------

    def serialize(self) -> bytes:
        """The file's bytes: format line, recipients, then the sorted values."""
        lines = [FORMAT_LINE]
        lines += [f"# recipient: {r}" for r in self._recipients]
        lines += [
            f"{n}={base64.b64encode(self._entries[n].ciphertext).decode()}" for n in self.names()
        ]
        return ("\n".join(lines) + "\n").encode()

    def save(self, *, overwrite: bool = True) -> None:
        """Write the file atomically, mode 0644: it holds no plaintext and is meant to be shared."""
        atomic_write(self.path, self.serialize(), mode=0o644, overwrite=overwrite)


def _check_recipients(recipients: Iterable[str]) -> list[str]:
    listed = [r.strip() for r in recipients if r.strip()]
    if not listed:
        raise FormatError("a secrets file needs at least one recipient")
    for r in listed:
        age.parse_recipient(r)
    return list(dict.fromkeys(listed))


def _parse(path: Path, data: bytes) -> tuple[list[str], dict[str, _Entry]]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretSourceError(f"{path}: not UTF-8 text") from None
    lines = [line.rstrip("\r") for line in text.split("\n")]
    if not lines[0].startswith(f"# {FORMAT}"):
        raise SecretSourceError(
            f"{path}:1: not a sealbox secrets file (the first line must start with '# {FORMAT}')"
        )
    recipients: list[str] = []
    entries: dict[str, _Entry] = {}
    i = 1
    while i < len(lines):
        number, line = i + 1, lines[i]
        i += 1
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            recipient = _recipient_line(path, number, stripped)
            if recipient:
                recipients.append(recipient)
            continue
        m = _ASSIGN.match(line)
        if m is None:
            raise SecretSourceError(f"{path}:{number}: expected NAME=VALUE")
        name, value = m["name"], m["value"].strip()
        if not NAME_PATTERN.fullmatch(name):
            raise SecretSourceError(f"{path}:{number}: invalid secret name {name[:64]!r}")
        if name in entries:
            raise SecretSourceError(
                f"{path}:{number}: {name} is already defined on line {entries[name].line}"
            )
        where = f"{path}:{number}"
        if value.startswith('"'):
            ciphertext, i = _quoted_value(where, name, value, lines, i)
        else:
            ciphertext = _base64_value(where, name, value)
        entries[name] = _Entry(name, ciphertext, number)
    if not recipients:
        raise SecretSourceError(f"{path}: no '# recipient:' line in the header")
    return recipients, entries


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


class SealedFileSource:
    """A :class:`~sealbox.secrets.SecretSource` over an encrypted secrets file.

    Values are decrypted when first looked up and kept as :class:`Secret`.

    Args:
        path: the file.
        identities: age identities that can decrypt it.
    """

    def __init__(self, path: str | os.PathLike[str], identities: Sequence[age.Identity]) -> None:
        self.file = SealedFile.load(path)
        self._identities = list(identities)
        self._cache: dict[str, Secret[str]] = {}

    @property
    def label(self) -> str:
        return f"secrets file {self.file.path}"

    def lookup(self, name: str) -> Secret[str] | None:
        if name not in self.file:
            return None
        if name not in self._cache:
            self._cache[name] = self.file.get(name, self._identities)
        return self._cache[name]

    def names(self) -> list[str]:
        return self.file.names()

    def __repr__(self) -> str:
        return f"SealedFileSource({str(self.file.path)!r})"
