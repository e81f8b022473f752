"""Usernames: compared and stored per RFC 8265, look-alikes of existing names refused.

A username is enforced with the PRECIS profile ``UsernameCaseMapped`` (RFC 8265
§3.3): fullwidth and halfwidth forms are mapped to their usual width, the name is
case-mapped and normalised to NFC, and names with spaces, control, format, bidi or
other invisible characters, or characters without a stable meaning, are refused.
``Alice``, ``ALICE`` and ``alice`` in fullwidth letters are therefore one name, ``alice``,
and ``alice `` or ``al`` + ZERO WIDTH SPACE + ``ice`` are refused.

Names that stay distinct under PRECIS can still look alike (CYRILLIC SMALL LETTER A for
LATIN SMALL LETTER A). Each account also stores the *skeleton* of its name (UTS #39 §4:
``NFD(map(NFD(name)))`` with Unicode's confusables mapping), and a new name whose
skeleton equals an existing one is refused. The mapping is Unicode's own
``confusables.txt``, shipped reduced in ``data/confusables.txt.gz`` with its licence
(:func:`confusables_version`; ``scripts/update_confusables.py`` refreshes it). No
maintained Python package computes skeletons without a C++ ICU build (PyICU's
``SpoofChecker``), so sealbox applies the mapping itself.

This module imports neither FastAPI nor the database: the service, the command
line and the data migration call the same functions.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import functools
import gzip
import unicodedata
from importlib import resources
from typing import Final

from sealbox.exceptions import SealboxError

__all__ = [
    "MAX_USERNAME",
    "PROFILE",
    "UsernameError",
    "canonical_username",
    "confusables_version",
    "lookup_key",
    "skeleton",
]

PROFILE: Final = "UsernameCaseMapped"
MAX_USERNAME: Final = 150

# What precis-i18n names a refusal, in words a user can act on.
_REASONS: Final = {
    "spaces": "spaces are not allowed",
    "precis_ignorable_properties": "invisible and formatting characters are not allowed",
    "controls": "control characters are not allowed",
    "bidi_rule": "it mixes right-to-left and left-to-right text in a way that can mislead",
    "has_compat": "compatibility characters (ligatures, circled or styled letters) are not allowed",
    "other_letter_digits": "this kind of letter or digit is not allowed",
    "unassigned": "unassigned characters are not allowed",
    "old_hangul_jamo": "old hangul jamo are not allowed",
    "symbols": "this symbol is not allowed",
    "punctuation": "this punctuation is not allowed",
    "empty": "it is empty",
}


class UsernameError(SealboxError, ValueError):
    """A username that RFC 8265's ``UsernameCaseMapped`` profile refuses.

    Attributes:
        reason: the PRECIS reason (``spaces``, ``precis_ignorable_properties``, …).
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def canonical_username(name: str) -> str:
    """The form a username is compared and stored in.

    Raises:
        UsernameError: the name is empty, longer than :data:`MAX_USERNAME`
            characters, or has characters the profile refuses (the message says
            which, as ``U+XXXX``).
    """
    from precis_i18n import get_profile

    try:
        result = str(get_profile(PROFILE).enforce(name))
    except UnicodeEncodeError as exc:
        reason = str(exc.reason).split("/", 1)[-1]
        words = _REASONS.get(reason, "it has a character that is not allowed")
        where = ""
        if 0 <= exc.start < len(name):
            where = f" (U+{ord(name[exc.start]):04X} at position {exc.start + 1})"
        raise UsernameError(f"the username is not valid: {words}{where}", reason=reason) from None
    if len(result) > MAX_USERNAME:
        raise UsernameError(
            f"the username is longer than {MAX_USERNAME} characters", reason="length"
        )
    return result


def lookup_key(name: str) -> str | None:
    """The canonical form of a name given at login, or ``None`` if it cannot be one."""
    try:
        return canonical_username(name)
    except UsernameError:
        return None


@functools.cache
def _confusables_lines() -> tuple[str, ...]:
    data = resources.files("sealbox.accounts").joinpath("data/confusables.txt.gz").read_bytes()
    return tuple(gzip.decompress(data).decode("utf-8").split("\n"))


@functools.cache
def _confusables() -> dict[int, str]:
    table: dict[int, str] = {}
    for line in _confusables_lines():
        if not line or line.startswith("#"):
            continue
        source, target = line.split(";")
        table[int(source, 16)] = "".join(chr(int(cp, 16)) for cp in target.split())
    return table


def confusables_version() -> str:
    """The Unicode version of the shipped confusables mapping (``"17.0.0"``)."""
    header = _confusables_lines()[0]
    return header.split("Version ", 1)[1].split(",", 1)[0]


def skeleton(name: str) -> str:
    """The UTS #39 skeleton of ``name``: equal skeletons mean the names look alike."""
    return unicodedata.normalize(
        "NFD", unicodedata.normalize("NFD", name).translate(_confusables())
    )
