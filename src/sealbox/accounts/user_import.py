"""Accounts brought over from other systems: JSON lines with password hashes, checked.

One JSON object per line::

    {"username": "alice", "password_hash": "$2b$12$…", "scopes": ["transit:encrypt:orders"]}

- ``username``: stored in its RFC 8265 canonical form (:mod:`sealbox.accounts.usernames`);
- ``password_hash``: a hash :class:`~sealbox.passwords.PasswordHasher` verifies — Argon2
  (``$argon2id$…``, and Django's ``argon2$argon2id$…``), bcrypt (``$2b$``, ``$2a$``,
  ``$2y$``, and Django's ``bcrypt_sha256$…`` and ``bcrypt$…``; verifying them at login
  needs the ``bcrypt`` extra), Django's ``pbkdf2_sha256$iterations$salt$hash`` and
  ``pbkdf2_sha1$…``, passlib's ``$pbkdf2-sha256$…`` and ``$pbkdf2-sha512$…``, or
  Werkzeug's (Flask apps) ``pbkdf2:sha256:iterations$salt$hex`` (also ``sha512``,
  ``sha1``) and ``scrypt:n:r:p$salt$hex``; within
  the costs a login may spend (:class:`~sealbox.passwords.HashTooCostlyError`: an
  imported hash is checked at every attempt, a wrong password included). It is stored as
  it is and replaced by an Argon2id hash of the current profile at the account's next
  successful login;
- ``scopes`` (optional): a list of scope names, beside the deployment's default ones.

A line is refused, with its number and the reason, when it is not such an object (other
members are refused too: a ``password`` member would be a password in clear; one that holds
a hash, as Django's ``auth_user`` column does, is refused saying to rename it), when its
``username`` holds a password hash (the members swapped: the name is not quoted), when its
name breaks the username rules, or when its name collides under them (one name under
RFC 8265, or look-alikes under UTS #39) with another line's or with an account's: every
line of a colliding group is refused, since which one is meant is not for sealbox to
guess; a line refused for another reason still counts in its group. Reasons quote line
numbers and usernames, never a hash.

More than :data:`MAX_REFUSED` lines refused for what they hold (collisions aside) refuse
the whole import, however many the others are (:class:`ImportRefusedError`): such a file
is no export of accounts (a CSV, a binary, a wrong path), and reading, listing and
auditing each of its short lines would cost minutes and gigabytes. Reading stops there.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from sealbox._util.json_objects import DuplicateMemberError, unique_members
from sealbox.accounts.scopes import check_scopes
from sealbox.accounts.usernames import (
    canonical_username,
    lookup_key,
    skeleton,
)
from sealbox.exceptions import ConfigError, SealboxError
from sealbox.passwords import PasswordHasher, hash_scheme

__all__ = [
    "MAX_REFUSED",
    "ImportProblem",
    "ImportRefusedError",
    "ImportReport",
    "InvalidLine",
    "PlannedAccount",
    "parse_json_lines",
    "plan_import",
    "screened",
]

FIELDS: Final = frozenset({"username", "password_hash", "scopes"})
MAX_LINE: Final = 16_384
#: The most lines an import may refuse for what they hold before it is refused whole.
MAX_REFUSED: Final = 1000


class ImportRefusedError(ConfigError):
    """More than :data:`MAX_REFUSED` lines are refused for what they hold: nothing is
    imported, ``skip_invalid`` or not (``facts["line"]``, ``facts["reason"]``: the first)."""

    code = "import_refused"

    def __init__(self, first: ImportProblem) -> None:
        super().__init__(
            f"nothing was imported: more than {MAX_REFUSED} lines are refused (line "
            f"{first.line}: {first.reason})",
            hint='give an export of accounts, one JSON object per line: {"username", '
            '"password_hash", "scopes"}',
            facts={"line": str(first.line), "reason": first.reason},
        )


@dataclass(frozen=True, slots=True)
class InvalidLine:
    """A line that is not JSON (``reason`` says where, never what it held)."""

    reason: str


@dataclass(frozen=True, slots=True)
class ImportProblem:
    """A line that cannot be imported: its number, its username if it had one, why."""

    line: int
    username: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class PlannedAccount:
    """A line that can be imported."""

    line: int
    username: str
    skeleton: str
    scheme: str
    #: The name as the line gave it (``username`` is its canonical form).
    given: str
    scopes: tuple[str, ...]
    password_hash: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did: the accounts created, and the lines refused.

    ``accepted`` is empty when nothing was imported (problems found and no
    ``skip_invalid``).
    """

    lines: int
    accepted: tuple[PlannedAccount, ...]
    problems: tuple[ImportProblem, ...]

    @property
    def imported(self) -> tuple[str, ...]:
        """The names of the accounts created."""
        return tuple(a.username for a in self.accepted)

    def refused(self) -> ImportReport:
        """The same report with nothing imported."""
        return replace(self, accepted=())


def parse_json_lines(lines: Iterable[str | bytes]) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` for each non-blank line; an :class:`InvalidLine` for bad JSON."""
    for number, raw in enumerate(lines, start=1):
        try:
            text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        except UnicodeDecodeError:
            yield number, InvalidLine("not UTF-8 text")
            continue
        if number == 1:
            # Editors on Windows start UTF-8 files with a byte order mark.
            text = text.removeprefix("\ufeff")
        text = text.strip()
        if not text:
            continue
        if len(text) > MAX_LINE:
            yield number, InvalidLine(f"longer than {MAX_LINE} characters")
            continue
        yield number, _parsed(text)


def _parsed(text: str) -> Any:
    """The JSON value of one line, or why it is not one (never what the line held: it may
    hold a hash)."""
    try:
        return json.loads(text, object_pairs_hook=unique_members)
    except DuplicateMemberError as exc:
        # {"username": "a", "username": "b"}: parsers disagree on which one counts.
        name = exc.name if len(exc.name) <= 40 else exc.name[:37] + "..."
        return InvalidLine(f"the member {name!r} is given twice")
    except json.JSONDecodeError as exc:
        return InvalidLine(f"not JSON ({exc.msg.lower()} at column {exc.colno})")
    except RecursionError:
        return InvalidLine("not JSON (nested more deeply than sealbox reads)")
    except ValueError:
        # The one other refusal of json.loads: int() takes no number longer than this.
        return InvalidLine(
            f"not JSON (a number of more than {sys.get_int_max_str_digits()} digits)"
        )


def screened(records: Iterable[tuple[int, Any]]) -> Iterator[tuple[int, Any]]:
    """``records`` as they come, until more than :data:`MAX_REFUSED` of them are no JSON
    object (:class:`ImportRefusedError`): a file of such lines is refused before the
    values of all its lines are held at once."""
    first: ImportProblem | None = None
    refused = 0
    for number, value in records:
        if not isinstance(value, dict):
            refused += 1
            if first is None:
                reason = value.reason if isinstance(value, InvalidLine) else "not a JSON object"
                first = ImportProblem(number, None, reason)
            if refused > MAX_REFUSED:
                raise ImportRefusedError(first)
        yield number, value


def plan_import(
    records: Iterable[tuple[int, Any]],
    existing: Iterable[str],
    hasher: PasswordHasher,
    default_scopes: Sequence[str] = (),
) -> ImportReport:
    """Check every record; return those that can be imported and the problems found.

    Args:
        records: ``(line number, parsed value)`` pairs (see :func:`parse_json_lines`).
        existing: the names of the accounts that exist.
        hasher: checks the form of each hash (none is verified: no password is known).
        default_scopes: scopes every account gets.
    """
    problems: list[ImportProblem] = []
    candidates: list[PlannedAccount] = []
    # Lines refused for another reason still name an account: a good line of the same
    # name (or a look-alike) is not imported in its place.
    named: list[_Named] = []
    count = 0
    for number, value in records:
        count += 1
        try:
            candidates.append(_check_record(number, value, hasher, default_scopes))
        except _Refused as exc:
            problems.append(ImportProblem(number, exc.username, exc.reason))
            if len(problems) > MAX_REFUSED:
                raise ImportRefusedError(problems[0]) from None
            given = exc.username
            canonical = lookup_key(given) if given is not None else None
            if given is not None and canonical is not None:
                named.append(_Named(number, canonical, skeleton(canonical), given))
    refused = _collisions([*candidates, *named], existing)
    accepted = []
    for c in candidates:
        if c.line in refused:
            problems.append(ImportProblem(c.line, c.given, refused[c.line]))
        else:
            accepted.append(c)
    problems.sort(key=lambda p: p.line)
    return ImportReport(lines=count, accepted=tuple(accepted), problems=tuple(problems))


@dataclass(frozen=True, slots=True)
class _Named:
    """A refused line's account name, for the collisions."""

    line: int
    username: str
    skeleton: str
    given: str


def _collisions(
    candidates: Sequence[PlannedAccount | _Named], existing: Iterable[str]
) -> dict[int, str]:
    """Why each colliding line is refused, by line number (a refused line's own reason
    is kept: only the candidates' are used)."""
    taken_names: set[str] = set()
    taken_shapes: set[str] = set()
    for name in existing:
        # Accounts older than the rules may keep names that are not canonical.
        canonical = lookup_key(name) or name
        taken_names.add(canonical)
        taken_shapes.add(skeleton(canonical))
    by_name: dict[str, list[PlannedAccount | _Named]] = defaultdict(list)
    by_shape: dict[str, list[PlannedAccount | _Named]] = defaultdict(list)
    for c in candidates:
        by_name[c.username].append(c)
        by_shape[c.skeleton].append(c)
    refused: dict[int, str] = {}
    for c in candidates:
        if c.username in taken_names or c.skeleton in taken_shapes:
            refused[c.line] = "an account has this name, or one that looks like it"
    for group in by_name.values():
        if len(group) > 1:
            for c in group:
                refused.setdefault(c.line, _same_name(c, group))
    for group in by_shape.values():
        if len({c.username for c in group}) > 1:
            for c in group:
                refused.setdefault(c.line, _look_alike(c, group))
    return refused


def _same_name(c: PlannedAccount | _Named, group: list[PlannedAccount | _Named]) -> str:
    others = ", ".join(f"line {o.line}" for o in group if o is not c)
    return f"the same name under RFC 8265 as {others}"


def _look_alike(c: PlannedAccount | _Named, group: list[PlannedAccount | _Named]) -> str:
    others = ", ".join(f"{o.given!r} on line {o.line}" for o in group if o.username != c.username)
    return f"looks like {others} (UTS #39)"


class _Refused(Exception):  # noqa: N818 - an outcome, caught in plan_import
    def __init__(self, username: str | None, reason: str) -> None:
        super().__init__(reason)
        self.username = username
        self.reason = reason


def _check_record(
    number: int, value: Any, hasher: PasswordHasher, default_scopes: Sequence[str]
) -> PlannedAccount:
    if isinstance(value, InvalidLine):
        raise _Refused(None, value.reason)
    if not isinstance(value, dict):
        raise _Refused(None, "not a JSON object")
    given = value.get("username")
    name = given if isinstance(given, str) else None
    if name is not None and hash_scheme(name) != "unknown":
        # Members swapped in the export: every refusal, note and audit record of the line
        # would quote the name, so it is not kept.
        raise _Refused(None, "'username' holds a password hash: are the members swapped?")
    unknown = sorted(set(value) - FIELDS)
    if unknown:
        reason = "unknown member " + ", ".join(repr(str(k)) for k in unknown)
        held = value.get("password")
        if unknown == ["password"] and isinstance(held, str):
            # Django's auth_user (and many apps') column: a hash there only needs the
            # member renamed. Its scheme is named, never more of it; a password in
            # clear is not said to be one.
            scheme = hash_scheme(held)
            if scheme != "unknown":
                reason += f" (it holds a {scheme} hash: name it 'password_hash')"
        raise _Refused(name, reason)
    if name is None:
        missing = "username" not in value
        raise _Refused(None, f"'username' {'is missing' if missing else 'must be a string'}")
    password_hash = value.get("password_hash")
    scopes = value.get("scopes", [])
    try:
        canonical = canonical_username(name)
        if "password_hash" not in value:
            raise _Refused(name, "'password_hash' is missing")
        if not isinstance(password_hash, str):
            raise _Refused(name, "'password_hash' must be a string")
        scheme = _checked_scheme(name, password_hash, hasher)
        if not isinstance(scopes, list):
            raise _Refused(name, "'scopes' must be a list of strings")
        if scopes:
            check_scopes(scopes)
    except SealboxError as exc:
        raise _Refused(name, str(exc)) from None
    return PlannedAccount(
        line=number,
        username=canonical,
        skeleton=skeleton(canonical),
        scheme=scheme,
        given=name,
        scopes=tuple(sorted({*default_scopes, *scopes})),
        password_hash=password_hash.strip(),
    )


def _checked_scheme(name: str, password_hash: str, hasher: PasswordHasher) -> str:
    try:
        hasher.needs_rehash(password_hash)
    except SealboxError as exc:
        raise _Refused(name, f"the password hash is not usable: {exc}") from None
    scheme = _scheme(password_hash)
    if scheme in ("bcrypt", "bcrypt_sha256") and importlib.util.find_spec("bcrypt") is None:
        raise _Refused(
            name, "bcrypt hashes are verified with the bcrypt extra: pip install 'sealbox[bcrypt]'"
        )
    return scheme


def _scheme(password_hash: str) -> str:
    text = password_hash.strip()
    if text.startswith(("$2a$", "$2b$", "$2y$", "bcrypt$")):  # "bcrypt$": Django's
        return "bcrypt"
    if text.startswith("bcrypt_sha256$"):
        return "bcrypt_sha256"
    if text.startswith(("pbkdf2_sha256$", "pbkdf2_sha1$")):
        return text.split("$", 1)[0]
    if text.startswith("$pbkdf2-"):
        return "passlib_pbkdf2"
    if text.startswith(("pbkdf2:", "scrypt:")):  # Werkzeug's
        return f"werkzeug_{text.split(':', 1)[0]}"
    return "argon2"
