"""Allowed-signers files (ssh-keygen(1), "ALLOWED SIGNERS"): who may sign, with which key.

Each line: ``principals [options] keytype base64-key [comment]``. Principals are
pattern-lists (``*`` and ``?`` wildcards, ``!`` negation); options are
``cert-authority``, ``namespaces="pattern-list"``, ``valid-after=`` and
``valid-before=``. :meth:`AllowedSigners.check` is the policy step of
:func:`sealbox.keys.sshsig.verify`: it says which principal, key, namespace or time
is not allowed, before any cryptography is checked.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from sealbox._util.files import read_limited
from sealbox.exceptions import (
    FormatError,
    KeyFormatError,
    SignerNotAllowedError,
    UnsupportedAlgorithmError,
)
from sealbox.keys.asymmetric import PublicKey
from sealbox.keys.sshsig_format import check_namespace

__all__ = ["MAX_ALLOWED_SIGNERS_FILE", "AllowedSigner", "AllowedSigners"]

MAX_ALLOWED_SIGNERS_FILE: Final = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class AllowedSigner:
    """One line of an allowed-signers file.

    Attributes:
        principals: the principal pattern-list (``*`` and ``?`` wildcards, ``!`` negation).
        public_key: the key.
        namespaces: the namespace pattern-list of a ``namespaces=`` option, or ``None``.
        valid_after: from ``valid-after=``, or ``None``.
        valid_before: from ``valid-before=``, or ``None``.
        cert_authority: the line has ``cert-authority``: it trusts certificates
            signed by the key, which sealbox does not verify, so it never matches.
        line: the line number in the file.
    """

    principals: str
    public_key: PublicKey
    namespaces: str | None = None
    valid_after: datetime | None = None
    valid_before: datetime | None = None
    cert_authority: bool = False
    line: int = 0


class AllowedSigners:
    """The keys trusted to sign, per principal: ssh-keygen's allowed-signers format.

    Each line: ``principals [options] keytype base64-key [comment]``. Empty lines
    and lines starting with ``#`` are ignored. Options: ``cert-authority``,
    ``namespaces="pattern-list"``, ``valid-after=`` and ``valid-before=``
    (``YYYYMMDD[Z]`` or ``YYYYMMDDHHMM[SS][Z]``, UTC with a ``Z`` or ``UTC`` suffix,
    else local time; after 1970-01-01, as ssh-keygen reads them).
    Lines with key types sealbox does not handle (``ssh-dss``, security keys) are
    kept out. A line that cannot be parsed is skipped, as ssh-keygen skips it (each line
    only grants, so a skipped one can only allow less): one typo in a shared file does
    not stop every signer. :attr:`skipped` says which and why, and a refusal names them;
    ``strict=True`` makes such a line an error instead.
    """

    __slots__ = ("entries", "skipped", "source")

    def __init__(
        self,
        entries: Iterable[AllowedSigner],
        *,
        source: str = "allowed signers",
        skipped: Iterable[str] = (),
    ) -> None:
        self.entries: tuple[AllowedSigner, ...] = tuple(entries)
        self.source = source
        self.skipped: tuple[str, ...] = tuple(skipped)
        """Why each malformed line was skipped (``"… line 3: bad timestamp '2099'"``)."""

    @classmethod
    def parse(
        cls, text: str | bytes, *, source: str = "allowed signers", strict: bool = False
    ) -> AllowedSigners:
        """Parse the text of an allowed-signers file.

        Args:
            text: the file's text.
            source: what messages call it.
            strict: a malformed line is an error, not skipped.

        Raises:
            FormatError: the text is not UTF-8, or (``strict``) a line is malformed (the
                message gives its number).
        """
        if isinstance(text, bytes):
            try:
                text = text.decode()
            except UnicodeDecodeError:
                raise FormatError(f"{source} is not UTF-8 text") from None
        entries, skipped = [], []
        for number, line in enumerate(text.splitlines(), 1):
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            try:
                entry = _parse_line(stripped, f"{source} line {number}", number)
            except (FormatError, KeyFormatError) as exc:
                if strict:
                    raise
                skipped.append(str(exc))
                continue
            if entry is not None:
                entries.append(entry)
        return cls(entries, source=source, skipped=skipped)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, strict: bool = False) -> AllowedSigners:
        """Read an allowed-signers file (at most 16 MiB); ``strict`` as in :meth:`parse`."""
        data = read_limited(path, MAX_ALLOWED_SIGNERS_FILE, "allowed signers file")
        return cls.parse(data, source=f"allowed signers file {path}", strict=strict)

    def check(
        self, principal: str, key: PublicKey, namespace: str, *, now: datetime | None = None
    ) -> AllowedSigner:
        """Return the line that lets ``principal`` sign ``namespace`` with ``key``.

        Raises:
            SignerNotAllowedError: no line does; the message says what is missing, and
                which malformed lines were skipped.
            ConfigError: ``namespace`` is empty or not one line of printable text.
        """
        check_namespace(namespace)
        try:
            return self._check(principal, key, namespace, now)
        except SignerNotAllowedError as exc:
            if not self.skipped:
                raise
            first = self.skipped[0].removeprefix(f"{self.source} ")
            more = f" and {len(self.skipped) - 1} more" if len(self.skipped) > 1 else ""
            raise SignerNotAllowedError(
                f"{exc}; malformed lines were skipped ({first}{more})",
                code=exc.code,
                hint=exc.hint,
                facts=exc.facts,
            ) from None

    def _check(
        self, principal: str, key: PublicKey, namespace: str, now: datetime | None
    ) -> AllowedSigner:

        moment = now or datetime.now(UTC)
        fingerprint = key.fingerprint()
        for_principal = [
            e for e in self.entries if not e.cert_authority and _match_list(principal, e.principals)
        ]
        if not for_principal:
            raise SignerNotAllowedError(f"principal {principal!r} is not in {self.source}")
        with_key = [e for e in for_principal if e.public_key == key]
        if not with_key:
            raise SignerNotAllowedError(
                f"key {fingerprint} is not an allowed signer for {principal!r} in {self.source}"
            )
        in_namespace = [
            e for e in with_key if e.namespaces is None or _match_list(namespace, e.namespaces)
        ]
        if not in_namespace:
            raise SignerNotAllowedError(
                f"{self.source} does not allow {principal!r} to sign namespace {namespace!r} "
                f"(line {with_key[0].line}: namespaces={with_key[0].namespaces})"
            )
        for entry in in_namespace:
            if entry.valid_after is not None and moment < entry.valid_after:
                continue
            if entry.valid_before is not None and moment > entry.valid_before:
                continue
            return entry
        entry = in_namespace[0]
        raise SignerNotAllowedError(
            f"key {fingerprint} of {principal!r} is not valid now ({self.source} line "
            f"{entry.line}: valid-after {_when(entry.valid_after)}, "
            f"valid-before {_when(entry.valid_before)})"
        )

    def principals_for(self, key: PublicKey, namespace: str | None = None) -> list[str]:
        """The principal patterns of every line that holds ``key`` (``-Y find-principals``)."""
        return [
            e.principals
            for e in self.entries
            if not e.cert_authority
            and e.public_key == key
            and (namespace is None or e.namespaces is None or _match_list(namespace, e.namespaces))
        ]

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"AllowedSigners(source={self.source!r}, entries={len(self.entries)})"


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def _split_fields(line: str) -> list[str]:
    """Split on spaces outside double quotes (quotes are kept)."""
    fields: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        if ch in " \t" and not quoted:
            if current:
                fields.append("".join(current))
                current = []
            continue
        current.append(ch)
    if quoted:
        raise FormatError("unterminated double quote")
    if current:
        fields.append("".join(current))
    return fields


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _looks_like_key_type(field: str) -> bool:
    return field.startswith(("ssh-", "ecdsa-sha2-", "sk-"))


def _principals_field(line: str) -> tuple[str, str]:
    """The principals and the rest of the line, cut as ssh-keygen cuts them (strdelimw).

    The field ends at the first blank or double quote. At a quote, the quote is dropped
    and the field runs to the next one, blanks and commas included: ``a"b c"`` lists
    ``ab c``, and ``"a b",c`` lists only ``a b`` (``,c`` then reads as options). Read
    any other way, a line would grant here a principal ssh-keygen does not.
    """
    for i, ch in enumerate(line):
        if ch in " \t":
            return line[:i], line[i + 1 :]
        if ch == '"':
            end = line.find('"', i + 1)
            if end < 0:
                raise FormatError("unterminated double quote")
            return line[:i] + line[i + 1 : end], line[end + 1 :]
    return line, ""


def _parse_line(line: str, where: str, number: int) -> AllowedSigner | None:
    try:
        principals, after = _principals_field(line)
        rest = _split_fields(after)
    except FormatError as exc:
        raise FormatError(f"{where}: {exc}") from None
    if len(rest) < 2:
        raise FormatError(f"{where}: expected 'principals [options] keytype base64-key'")
    if not principals:
        raise FormatError(f"{where}: empty principals")
    options: dict[str, str | None] = {}
    if not _looks_like_key_type(rest[0]):
        options = _parse_options(rest[0], where)
        rest = rest[1:]
    if len(rest) < 2:
        raise FormatError(f"{where}: expected a key type and a base64 key after the options")
    key_type, key_b64 = rest[0], rest[1]
    try:
        key = PublicKey.from_bytes(f"{key_type} {key_b64}", what=where)
    except UnsupportedAlgorithmError:
        return None  # ssh-dss, security keys, certificates: cannot match a sealbox-verified key
    except KeyFormatError as exc:
        raise FormatError(str(exc)) from None
    namespaces = options.get("namespaces")
    return AllowedSigner(
        principals=principals,
        public_key=key,
        namespaces=None if namespaces is None else _unquote(namespaces),
        valid_after=_timestamp(options.get("valid-after"), where),
        valid_before=_timestamp(options.get("valid-before"), where),
        cert_authority="cert-authority" in options,
        line=number,
    )


_OPTIONS: Final = frozenset({"cert-authority", "namespaces", "valid-after", "valid-before"})


def _parse_options(text: str, where: str) -> dict[str, str | None]:
    options: dict[str, str | None] = {}
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    for part in parts:
        name, eq, value = part.partition("=")
        name = name.lower()
        if name not in _OPTIONS:
            raise FormatError(f"{where}: unknown option {name!r}")
        if (name == "cert-authority") == bool(eq):
            raise FormatError(f"{where}: option {name!r} is malformed")
        if name in options:
            # ssh-keygen refuses the line: taking either clause would let the file say
            # one thing to its reader and another to the verifier.
            raise FormatError(f"{where}: option {name!r} is given more than once")
        if eq and not (len(value) >= 2 and value[0] == value[-1] == '"'):
            # ssh-keygen (and git through it) skips such a line: a file sealbox took would
            # grant there what it does not grant here.
            raise FormatError(
                f"{where}: the value of option {name!r} must be in double quotes "
                f'({name}="…"), as ssh-keygen reads it'
            )
        options[name] = _unquote(value) if eq else None
    return options


def _timestamp(value: str | None, where: str) -> datetime | None:
    """A ``valid-after``/``valid-before`` time, read as ssh-keygen reads it.

    ``YYYYMMDD[HHMM[SS]]``, UTC with a ``Z`` or ``UTC`` suffix (any case), else local
    time; a day past the month's end rolls into the next month (``20250230`` is 2 March,
    strptime then mktime). The epoch and earlier are refused ("invalid time"): a time
    read otherwise would grant a signer here and not there, or the reverse.
    """
    if value is None:
        return None
    text, utc = value, False
    if len(text) > 1 and text[-1] in "Zz":
        text, utc = text[:-1], True
    elif len(text) > 3 and text[-3:].upper() == "UTC":
        text, utc = text[:-3], True
    moment = _calendar_time(text)
    if moment is None:
        raise FormatError(f"{where}: bad timestamp {value!r} (YYYYMMDD[Z] or YYYYMMDDHHMM[SS][Z])")
    moment = moment.replace(tzinfo=UTC) if utc else moment.astimezone()
    if moment.timestamp() <= 0:
        raise FormatError(f"{where}: bad timestamp {value!r} (not after 1970-01-01)")
    return moment


def _calendar_time(text: str) -> datetime | None:
    """``YYYYMMDD[HHMM[SS]]`` with strptime's ranges (day 1-31, second 0-61), normalised."""
    if len(text) not in (8, 12, 14) or not (text.isascii() and text.isdigit()):
        return None
    year = int(text[:4])
    month, day, hour, minute, second = (
        int(text[i : i + 2]) if i < len(text) else 0 for i in range(4, 14, 2)
    )
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59):
        return None
    if second > 61 or year < 1:
        return None
    try:
        return datetime(year, month, 1) + timedelta(
            days=day - 1, hours=hour, minutes=minute, seconds=second
        )
    except OverflowError:
        return None


def _match(text: str, pattern: str) -> bool:
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, text, re.DOTALL) is not None


def _match_list(text: str, pattern_list: str) -> bool:
    """ssh_config(5) PATTERNS: any pattern matches and no negated (``!``) one does."""
    found = False
    for pattern in pattern_list.split(","):
        if pattern.startswith("!"):
            if _match(text, pattern[1:]):
                return False
        elif _match(text, pattern):
            found = True
    return found
