"""The encrypted secrets file: dotenv syntax, every value an age ciphertext.

A file anyone with the repository can extend, only holders of an identity can
read, and whose diffs show which name changed::

    # sealbox-secrets/2: values are age-encrypted; edit with `sealbox secrets`
    # recipient: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p
    # recipient: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO… alice@laptop
    API_TOKEN=YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSB…
    DB_PASSWORD=YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSB…
    # sealbox-secrets-end: 2 secrets, sha256:…

- The first line names the format. ``# recipient:`` lines list who every value is
  encrypted to; the trailer detects a file cut short or missing a line (see
  :mod:`sealbox.secrets.sealed_format`).
- Each value is the standard base64 (one line) of a binary age file, or an
  armored age file in double quotes (``NAME="-----BEGIN AGE ENCRYPTED FILE-----…"``
  over several lines). sealbox writes base64 and sorts names.
- The age plaintext names the secret and the recipient list it was sealed for: a
  value moved to another name is refused, and a reader notices a recipient list
  changed behind the writers' backs.
- Setting a value needs only the recipients; reading needs an identity.

Writes hold the file's lock from re-reading to the rename, and merge what another
writer saved meanwhile: names changed on only one side are kept from that side; a
name changed on both sides is a conflict, and nothing is written. A file that fails
its checks is refused, and never saved back.

.. versionadded:: 0.1.0
.. versionchanged:: 0.1.0
   Format version 2 (a trailer; values bound to their recipient list); locked,
   merging writes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from sealbox import age
from sealbox._util.files import atomic_write, read_limited
from sealbox._util.locks import locked
from sealbox._util.merge import Origin, origin_of, save_merged
from sealbox.exceptions import (
    ConcurrentChangeError,
    DecryptionError,
    FormatError,
    NoIdentityMatchError,
    SecretSourceError,
    StorageError,
)
from sealbox.secret import Secret
from sealbox.secrets.base import check_name, handed_out
from sealbox.secrets.sealed_format import (
    FORMAT,
    FORMAT_LINE,
    Entry,
    check_recipients,
    parse,
    recipients_digest,
    render,
    seal_plaintext,
    split_plaintext,
)

__all__ = ["FORMAT", "FORMAT_LINE", "RecipientsChangedError", "SealedFile", "SealedFileSource"]

MAX_FILE_SIZE = 16 * 1024 * 1024


class RecipientsChangedError(SecretSourceError):
    """The file's recipient list is not the one a value was encrypted to.

    Someone changed the ``# recipient:`` lines without re-encrypting the values: if
    that was not the team, new values set since then may be readable by whoever
    added their key. :meth:`SealedFile.rotate` re-encrypts every value to the list
    (an intended change).

    Attributes:
        names: the secrets sealed for another recipient list.
    """

    def __init__(self, message: str, *, names: Sequence[str], hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.names = tuple(names)


class _NotForTheseIdentitiesError(SecretSourceError):
    """No identity given opens the value."""


class SealedFile:
    """An encrypted secrets file in memory. Load it, change it, :meth:`save` it."""

    def __init__(
        self, path: Path, recipients: list[str], entries: dict[str, Entry], version: int = 2
    ) -> None:
        self.path = path
        self._recipients = recipients
        self._entries = entries
        #: The format version the file was read in (1: upgraded on the next save).
        self.version = version
        self._origin: Origin | None = None
        self._base: tuple[list[str], dict[str, bytes]] = (list(recipients), {})

    def __repr__(self) -> str:
        return f"SealedFile({str(self.path)!r}, names={len(self._entries)})"

    # -- construction ---------------------------------------------------------------

    @classmethod
    def create(cls, path: str | os.PathLike[str], recipients: Iterable[str]) -> SealedFile:
        """A new, empty file for ``recipients`` (not written until :meth:`save`).

        Raises:
            FormatError: no recipients, or one that is not a valid age recipient.
        """
        listed = check_recipients(recipients)
        return cls(Path(path), listed, {})

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SealedFile:
        """Read and check a file (no identity is needed).

        Raises:
            SecretSourceError: missing or unreadable file, a malformed line, a
                duplicate name, an unknown recipient (the message names file and
                line), or a damaged file (its trailer does not match).
        """
        path = Path(path)
        try:
            data = read_limited(path, MAX_FILE_SIZE, "secrets file")
        except StorageError as exc:
            raise SecretSourceError(str(exc)) from None
        parsed = parse(path, data)
        sealed = cls(path, parsed.recipients, parsed.entries, parsed.version)
        sealed._remember(origin_of(path, data))
        return sealed

    @classmethod
    def accept(cls, path: str | os.PathLike[str]) -> SealedFile:
        """Accept a file as it is now, after a person checked it: write a new trailer.

        For a file merged or edited by hand, which its old trailer no longer
        matches. Every line must still parse; the file is written back in sealbox's
        own layout (sorted, base64 values) with a trailer for what it holds now.

        Raises:
            SecretSourceError: a line does not parse.
        """
        path = Path(path)
        with locked(path):
            try:
                data = read_limited(path, MAX_FILE_SIZE, "secrets file")
            except StorageError as exc:
                raise SecretSourceError(str(exc)) from None
            parsed = parse(path, data, check_trailer=False)
            sealed = cls(path, parsed.recipients, parsed.entries, parsed.version)
            fresh = sealed.serialize()
            atomic_write(path, fresh)
        sealed._remember(origin_of(path, fresh))
        return sealed

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
            RecipientsChangedError: the value was encrypted to another recipient
                list than the file's header shows.
        """
        entry = self._entries.get(name)
        if entry is None:
            raise SecretSourceError(f"{self.path}: no secret named {name}")
        value, digest = self._open(entry, identities)
        if digest is not None and digest != recipients_digest(self._recipients):
            raise RecipientsChangedError(
                f"{self.path}: the recipient list in the header is not the one {name} was "
                "encrypted to: someone changed it without re-encrypting the values",
                names=[name],
                hint="check the '# recipient:' lines in the file's history; if the change "
                "is intended, re-encrypt every value to the new list with 'rotate'",
            )
        return Secret(value)

    def decrypt_all(self, identities: Sequence[age.Identity]) -> dict[str, Secret[str]]:
        """Decrypt every value (in name order)."""
        return {n: self.get(n, identities) for n in self.names()}

    def check(self, identities: Sequence[age.Identity]) -> dict[str, str]:
        """Open every value and say how it stands: ``ok``, ``recipients changed``,
        ``not encrypted to you`` (no identity given opens it: it was sealed for
        another list), or ``unchecked`` (a version 1 value, which does not record
        its recipients).

        Raises:
            SecretSourceError: a value was altered or moved (as :meth:`get`).
        """
        current = recipients_digest(self._recipients)
        states = {}
        for name in self.names():
            try:
                _, digest = self._open(self._entries[name], identities)
            except _NotForTheseIdentitiesError:
                states[name] = "not encrypted to you"
                continue
            if digest is None:
                states[name] = "unchecked"
            else:
                states[name] = "ok" if digest == current else "recipients changed"
        return states

    def _open(self, entry: Entry, identities: Sequence[age.Identity]) -> tuple[str, str | None]:
        where = f"{self.path}:{entry.line}"
        try:
            plain = age.decrypt(entry.ciphertext, identities)
        except NoIdentityMatchError:
            raise _NotForTheseIdentitiesError(
                f"{where}: no identity can decrypt {entry.name}",
                hint="use an identity whose recipient is listed in the file's header",
            ) from None
        except DecryptionError:
            raise SecretSourceError(
                f"{where}: {entry.name} cannot be decrypted: the value was altered"
            ) from None
        except FormatError as exc:
            raise SecretSourceError(f"{where}: {entry.name} is not an age file ({exc})") from None
        # The errors below are raised with no decrypted byte in this frame's locals nor in
        # a chained UnicodeDecodeError: error reporters show both (Sentry by default).
        split = split_plaintext(plain, entry.name)
        del plain
        if split is None:
            raise SecretSourceError(
                f"{where}: the value of {entry.name} was sealed for another name "
                "(moved or copied from another line)"
            )
        raw, digest = split
        del split
        text = _utf8(raw)
        del raw
        if text is None:
            raise SecretSourceError(f"{where}: {entry.name} is not UTF-8 text")
        return text, digest

    # -- changing -------------------------------------------------------------------

    def set(self, name: str, value: str | Secret[str]) -> None:
        """Encrypt ``value`` to the file's recipients under ``name`` (no identity needed)."""
        check_name(name, str(self.path))
        text = value.expose_secret() if isinstance(value, Secret) else value
        line = self._entries[name].line if name in self._entries else 0
        self._entries[name] = Entry(name, self._seal(name, text), line)

    def remove(self, name: str) -> None:
        """Delete a secret.

        Raises:
            SecretSourceError: no such name.
        """
        if self._entries.pop(name, None) is None:
            raise SecretSourceError(f"{self.path}: no secret named {name}")

    def rotate(self, identities: Sequence[age.Identity], recipients: Iterable[str]) -> None:
        """Re-encrypt every value to new recipients (decrypting all of them first).

        Values sealed for another recipient list are re-encrypted too: rotating is
        how an intended change of the list is confirmed. Nothing changes unless
        every value decrypts.
        """
        new_recipients = check_recipients(recipients)
        values = {n: self._open(e, identities)[0] for n, e in self._entries.items()}
        self._recipients = new_recipients
        self._entries = {n: Entry(n, self._seal(n, v), 0) for n, v in values.items()}

    def replace_values(
        self, values: Mapping[str, str], identities: Sequence[age.Identity]
    ) -> list[str]:
        """Make the file hold exactly ``values``; return the names that changed.

        Values that did not change keep their ciphertext, so the file's diff shows
        only what was edited.
        """
        for name in values:
            check_name(name, str(self.path))
        current = {n: self.get(n, identities).expose_secret() for n in self._entries}
        changed = sorted(
            {n for n in values if current.get(n) != values[n]} | (set(current) - set(values))
        )
        entries = {}
        for name, value in values.items():
            old = self._entries.get(name)
            if old is not None and current[name] == value:
                entries[name] = old
            else:
                entries[name] = Entry(name, self._seal(name, value), 0)
        self._entries = entries
        return changed

    def _seal(self, name: str, value: str) -> bytes:
        plain = seal_plaintext(name, self._recipients, value)
        return age.encrypt(plain, [age.parse_recipient(r) for r in self._recipients])

    # -- writing --------------------------------------------------------------------

    def serialize(self) -> bytes:
        """The file's bytes (format version 2): header, the sorted values, the trailer."""
        return render(self._recipients, self._entries)

    def save(self, *, overwrite: bool = True) -> None:
        """Write the file atomically under its lock, merging what others saved meanwhile.

        A new file gets mode 0644 (it holds no plaintext and is meant to be shared);
        a rewrite keeps the mode, owner and group of the file it replaces.

        Raises:
            ConcurrentChangeError: another writer changed the same names (listed in
                the error), or the recipients, meanwhile; nothing was written.
            SecretSourceError: the file on disk is damaged (it is not overwritten).
            StorageError: the file exists and ``overwrite`` is false, or cannot be
                written.
        """
        origin = save_merged(
            self.path,
            origin=self._origin,
            render=self.serialize,
            merge_from=self._merge_from,
            limit=MAX_FILE_SIZE,
            what="secrets file",
            overwrite=overwrite,
            mode=0o644,
            too_large_hint="keep large values in files of their own (sealbox encrypt), or "
            "split the secrets into several files",
        )
        self._remember(origin)

    def _merge_from(self, data: bytes, target: str) -> None:
        theirs = parse(self.path, data)
        base_recipients, base = (
            self._base if self._origin and self._origin[0] == target else ([], {})
        )
        ours = {n: e.ciphertext for n, e in self._entries.items()}
        other = {n: e.ciphertext for n, e in theirs.entries.items()}
        conflicts = []
        merged: dict[str, Entry] = {}
        for name in sorted(set(ours) | set(other)):
            mine, yours, was = ours.get(name), other.get(name), base.get(name)
            if yours in (mine, was):
                pick = mine
            elif mine == was:
                pick = yours
            else:
                conflicts.append(name)
                continue
            if pick is not None:
                merged[name] = Entry(name, pick, 0)
        recipients = self._recipients
        if theirs.recipients != self._recipients:
            if self._recipients == base_recipients and ours == base:
                recipients = theirs.recipients
            else:
                conflicts.append("the recipient list")
        if conflicts:
            raise ConcurrentChangeError(
                f"{self.path} was changed by another writer meanwhile, in the same "
                f"place: {', '.join(conflicts)}",
                path=target,
                names=conflicts,
                hint="run the command again on the file as it is now",
            )
        self._recipients = recipients
        self._entries = merged

    def _remember(self, origin: Origin) -> None:
        self._origin = origin
        self._base = (list(self._recipients), {n: e.ciphertext for n, e in self._entries.items()})


class SealedFileSource:
    """A :class:`~sealbox.secrets.SecretSource` over an encrypted secrets file.

    Values are decrypted when first looked up and kept as :class:`Secret`; a value looked
    up is registered with the log redaction filter.

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
        return handed_out(self._cache[name])

    def names(self) -> list[str]:
        return self.file.names()

    def __repr__(self) -> str:
        return f"SealedFileSource({str(self.file.path)!r})"


def _utf8(raw: bytes) -> str | None:
    """``raw`` decoded, or ``None`` when it is not UTF-8 (the decoder's error, which holds
    every byte, is not kept)."""
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return None
