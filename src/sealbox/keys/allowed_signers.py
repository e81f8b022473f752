"""Allowed-signers files (ssh-keygen(1), "ALLOWED SIGNERS"): who may sign, with which key.

Each line: ``principals [options] keytype base64-key [comment]``. Principals are
pattern-lists (``*`` and ``?`` wildcards, ``!`` negation); options are
``cert-authority``, ``namespaces="pattern-list"``, ``valid-after=`` and
``valid-before=``. :meth:`AllowedSigners.check` is the policy step of
:func:`sealbox.keys.sshsig.verify`: it says which principal, key, namespace or time
is not allowed, before any cryptography is checked.
"""

from __future__ import annotations

import base64
import os
import re
import time
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
from sealbox.keys.serialize import split_ssh_options
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

    Each line: ``principals [options] keytype base64-key [comment]``, lines ending at
    ``\\n`` only, as ssh-keygen reads them. Empty lines and lines starting with ``#``
    are ignored. Options: ``cert-authority``,
    ``namespaces="pattern-list"``, ``valid-after=`` and ``valid-before=``
    (``YYYYMMDD[Z]`` or ``YYYYMMDDHHMM[SS][Z]``, UTC with a ``Z`` or ``UTC`` suffix,
    else the local zone's standard time, summer or not; after 1970-01-01, as ssh-keygen
    reads them). Option values are read as ssh-keygen reads them (``\\"`` in a value is
    a quote); the comment after the key is not read.
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
        # Lines as ssh-keygen reads them: up to "\n" only (getline), each a C string (a
        # NUL ends it), blanks skipped before it. str.splitlines() would also end a line
        # at "\r", "\x0b", "\x0c", "\x1c"-"\x1e", NEL or U+2028/U+2029, so a comment or a
        # principals field could hold a second line granting a signer ssh-keygen never sees.
        for number, raw in enumerate(text.split("\n"), 1):
            line = raw.partition("\0")[0].lstrip(" \t")
            if not line.lstrip("\r") or line.lstrip("\r").startswith("#"):
                continue  # a leading "\r" makes no line here, only in newer ssh-keygen
            try:
                entry = _parse_line(line, f"{source} line {number}", number)
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
            if _valid_at(entry, moment):
                return entry
        entry = in_namespace[0]
        raise SignerNotAllowedError(
            f"key {fingerprint} of {principal!r} is not valid now ({self.source} line "
            f"{entry.line}: valid-after {_when(entry.valid_after)}, "
            f"valid-before {_when(entry.valid_before)})"
        )

    def principals_for(
        self, key: PublicKey, namespace: str | None = None, *, now: datetime | None = None
    ) -> list[str]:
        """The principals field of every line that lets ``key`` sign at ``now``, in order.

        A line counts when it holds ``key`` (not as ``cert-authority``), ``now`` (default:
        the current time) is within its ``valid-after``/``valid-before``, and, when
        ``namespace`` is given, its ``namespaces=`` allows it. ``ssh-keygen -Y
        find-principals`` prints the first of these, split at the commas, and looks at
        no namespace: ``principals_for(key, now=t)[0].split(",")`` is its answer at
        ``-O verify-time=t``.
        """
        moment = now or datetime.now(UTC)
        return [
            e.principals
            for e in self.entries
            if not e.cert_authority
            and e.public_key == key
            and (namespace is None or e.namespaces is None or _match_list(namespace, e.namespaces))
            and _valid_at(e, moment)
        ]

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"AllowedSigners(source={self.source!r}, entries={len(self.entries)})"


def _valid_at(entry: AllowedSigner, moment: datetime) -> bool:
    """``moment`` is within the line's valid-after/valid-before, both included."""
    if entry.valid_after is not None and moment < entry.valid_after:
        return False
    return entry.valid_before is None or moment <= entry.valid_before


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def _blank_split(text: str, limit: int) -> list[str]:
    """Fields separated by blanks (space, tab), as ssh-keygen separates them."""
    return [field for field in re.split(r"[ \t]+", text.lstrip(" \t"), maxsplit=limit) if field]


def _options_field(text: str) -> tuple[str, str]:
    """The options and the rest of the line, cut as ssh-keygen cuts them; an
    unterminated double quote is refused."""
    options, rest, open_quote = split_ssh_options(text)
    if open_quote:
        raise FormatError("unterminated double quote in the options")
    return options, rest


def _looks_like_key_type(field: str) -> bool:
    return field.startswith(("ssh-", "ecdsa-sha2-", "sk-"))


def _principals_field(line: str) -> tuple[str, str]:
    """The principals and the rest of the line, cut as ssh-keygen cuts them (strdelimw).

    The field ends at the first blank, ``\\r`` or double quote, and the blanks and
    ``\\r`` after it are skipped (``a\\rssh-ed25519 …`` lists ``a``). At a quote, the
    quote is dropped and the field runs to the next one, blanks and commas included:
    ``a"b c"`` lists ``ab c``, and ``"a b",c`` lists only ``a b`` (``,c`` then reads as
    options). Read any other way, a line would grant here a principal ssh-keygen does not.
    """
    for i, ch in enumerate(line):
        if ch in " \t\r":
            return line[:i], line[i + 1 :].lstrip(" \t\r")
        if ch == '"':
            end = line.find('"', i + 1)
            if end < 0:
                raise FormatError("unterminated double quote")
            return line[:i] + line[i + 1 : end], line[end + 1 :].lstrip(" \t\r")
    return line, ""


def _parse_line(line: str, where: str, number: int) -> AllowedSigner | None:
    try:
        principals, after = _principals_field(line)
        fields = _blank_split(after, 1)
        options: dict[str, str] = {}
        cert_authority = False
        if fields and not _looks_like_key_type(fields[0]):
            text, after = _options_field(after.lstrip(" \t"))
            options, cert_authority = _parse_options(text)
    except FormatError as exc:
        raise FormatError(f"{where}: {exc}") from None
    if not principals:
        raise FormatError(f"{where}: empty principals")
    # What follows the key is its comment, read no further (a quote there is no quote).
    fields = _blank_split(after, 2)
    if len(fields) < 2 and (options or cert_authority):
        raise FormatError(f"{where}: expected a key type and a base64 key after the options")
    if len(fields) < 2:
        raise FormatError(f"{where}: expected 'principals [options] keytype base64-key'")
    # C whitespace inside the base64 is skipped, as ssh-keygen's b64_pton skips it (so
    # a CRLF line's key is read).
    key_type, key_b64 = fields[0], fields[1].translate(_C_SPACE_IN_FIELD)
    try:
        key = PublicKey.from_bytes(f"{key_type} {key_b64}", what=where)
    except UnsupportedAlgorithmError:
        return None  # ssh-dss, security keys, certificates: cannot match a sealbox-verified key
    except KeyFormatError as exc:
        raise FormatError(str(exc)) from None
    if not _canonical_base64(key_b64):
        # A lenient decoder finds a key in "AAAA…\x1c" or "AAAA…=" where ssh-keygen
        # finds none.
        raise FormatError(f"{where}: the key is not canonical base64")
    valid_after = _timestamp(options.get("valid-after"), where)
    valid_before = _timestamp(options.get("valid-before"), where)
    if valid_after and valid_before and valid_before <= valid_after:
        # ssh-keygen refuses the line; read here it would grant the one second they share.
        raise FormatError(f"{where}: valid-before is not after valid-after")
    return AllowedSigner(
        principals=principals,
        public_key=key,
        namespaces=options.get("namespaces"),
        valid_after=valid_after,
        valid_before=valid_before,
        cert_authority=cert_authority,
        line=number,
    )


_C_SPACE_IN_FIELD: Final = {ord(ch): None for ch in "\r\x0b\x0c"}


def _canonical_base64(text: str) -> bool:
    """``text`` is base64 as ssh-keygen's b64_pton takes it: the alphabet, padded, zero
    bits past the last byte."""
    try:
        return base64.b64encode(base64.b64decode(text, validate=True)).decode() == text
    except ValueError:  # binascii.Error, or not ASCII
        return False


_VALUED_OPTIONS: Final = ("namespaces", "valid-after", "valid-before")


def _word_at(text: str, pos: int, word: str) -> bool:
    """``word`` starts at ``pos``, ASCII letters in any case (strncasecmp)."""
    chunk = text[pos : pos + len(word)]
    return chunk.isascii() and chunk.lower() == word


def _parse_options(text: str) -> tuple[dict[str, str], bool]:
    """The options of a line, read as ssh-keygen reads them (sshsigopt_parse).

    A name in any case; ``name="value"`` with ``=`` right after the name and the value
    in double quotes, where ``\\"`` is a quote and any other backslash is itself; empty
    options between commas are skipped, a trailing comma is not; an option given twice
    (``cert-authority`` aside) refuses the line: taking either clause would let the file
    say one thing to its reader and another to the verifier. Read any other way, a line
    would grant here what it does not grant in ssh-keygen (and git through it).
    """
    options: dict[str, str] = {}
    cert_authority = False
    pos = 0
    while pos < len(text) and text[pos] not in " \t":
        name = next(
            (n for n in _VALUED_OPTIONS if _word_at(text, pos, n + "=")),
            "cert-authority" if _word_at(text, pos, "cert-authority") else "",
        )
        if name == "cert-authority":
            cert_authority = True
            pos += len(name)
        elif name:
            if name in options:
                raise FormatError(f"option {name!r} is given more than once")
            options[name], pos = _dequote(text, pos + len(name) + 1, name)
        if pos >= len(text) or text[pos] in " \t":
            break
        if text[pos] != ",":
            word = name or re.split(r'[,=" \t]', text[pos:], maxsplit=1)[0].lower()
            if word in _VALUED_OPTIONS or word == "cert-authority":
                raise FormatError(f"option {word!r} is malformed")
            raise FormatError(f"unknown option {word!r}")
        pos += 1
        if pos >= len(text):
            raise FormatError("the options end with a comma")
    return options, cert_authority


def _dequote(text: str, pos: int, name: str) -> tuple[str, int]:
    """The double-quoted value at ``pos`` (``\\"`` is a quote) and the index past it."""
    if text[pos : pos + 1] != '"':
        raise FormatError(
            f'the value of option {name!r} must be in double quotes ({name}="…"), '
            "as ssh-keygen reads it"
        )
    value: list[str] = []
    pos += 1
    while pos < len(text) and text[pos] != '"':
        if text[pos] == "\\" and text[pos + 1 : pos + 2] == '"':
            pos += 1
        value.append(text[pos])
        pos += 1
    if pos >= len(text):
        raise FormatError(f"the value of option {name!r} has no closing double quote")
    return "".join(value), pos + 1


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
    fields = _calendar_fields(text)
    if fields is None:
        raise FormatError(f"{where}: bad timestamp {value!r} (YYYYMMDD[Z] or YYYYMMDDHHMM[SS][Z])")
    year, month, day, hour, minute, second = fields
    try:
        if utc:
            moment = datetime(year, month, 1, tzinfo=UTC) + timedelta(
                days=day - 1, hours=hour, minutes=minute, seconds=second
            )
        else:
            # mktime with tm_isdst = 0, as ssh-keygen calls it: the time is read as the
            # zone's standard time even in summer (12:00 in Berlin in July is 11:00 UTC,
            # not 10:00), so a line grants the same hour here as there.
            seconds = time.mktime((year, month, day, hour, minute, second, 0, 0, 0))
            moment = datetime.fromtimestamp(seconds, UTC).astimezone()
    except (OverflowError, ValueError, OSError):
        moment = None
    if moment is None or moment.timestamp() <= 0:
        raise FormatError(f"{where}: bad timestamp {value!r} (not after 1970-01-01)")
    return moment


def _calendar_fields(text: str) -> tuple[int, int, int, int, int, int] | None:
    """``YYYYMMDD[HHMM[SS]]`` within strptime's ranges (day 1-31, second 0-61)."""
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
    return year, month, day, hour, minute, second


# match_pattern_list copies each sub-pattern into a 1024-byte buffer: one that does not fit
# (1023 bytes or more) ends the list with no match, whatever matched before it.
_MAX_SUBPATTERN: Final = 1023
_STAR: Final = ord("*")
_QUESTION: Final = ord("?")


def _utf8(text: str) -> bytes:
    """``text`` as the bytes ssh-keygen compares (argv bytes that are not UTF-8 included)."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _match(text: bytes, pattern: bytes) -> bool:
    """``*`` and ``?`` glob matching, in at most ``len(text) * len(pattern)`` steps.

    A regular expression (or ssh-keygen's recursive match_pattern) backtracks
    exponentially on ``*a*a*a*a*b`` against ``aaaa…``: a line of a shared file would
    hang every verification. Only the last ``*`` needs to be retried, so one pass does.
    """
    t = p = 0
    star, resume = -1, 0
    while t < len(text):
        if p < len(pattern) and pattern[p] == _STAR:
            star, resume, p = p, t, p + 1
        elif p < len(pattern) and pattern[p] in (text[t], _QUESTION):
            t, p = t + 1, p + 1
        elif star >= 0:
            resume += 1
            t, p = resume, star + 1
        else:
            return False
    return pattern[p:].strip(b"*") == b""


def _match_list(text: str, pattern_list: str) -> bool:
    """ssh_config(5) PATTERNS: any pattern matches and no negated (``!``) one does.

    Matched on UTF-8 bytes as ssh-keygen matches them: ``?`` is one byte, so ``?`` does
    not match ``é`` and ``??`` does; a line read by code points would grant here a
    principal or namespace it does not grant there.
    """
    subject, found = _utf8(text), False
    for sub in _utf8(pattern_list).split(b","):
        negated = sub.startswith(b"!")
        pattern = sub.removeprefix(b"!")
        if len(pattern) >= _MAX_SUBPATTERN:
            return False
        if _match(subject, pattern):
            if negated:
                return False
            found = True
    return found
