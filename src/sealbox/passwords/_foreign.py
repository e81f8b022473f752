"""Hashes other tools made, which sealbox verifies and upgrades at the next login:
bcrypt (``$2a$``/``$2b$``/``$2y$``), Django's ``pbkdf2_sha256$`` and passlib's
``$pbkdf2-sha256$``/``$pbkdf2-sha512$``; and the refusal of any other scheme.

Each form is checked whole before any work (a hostile hash cannot ask for unbounded
rounds), and verification runs over every candidate encoding of the password that
:class:`~sealbox.passwords.hasher.PasswordHasher` gives it.

May import: :mod:`sealbox.exceptions`, the standard library and ``bcrypt`` (the
``[bcrypt]`` extra, only when a bcrypt hash is verified).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from typing import Final

from sealbox.exceptions import (
    ExtraNotInstalledError,
    FormatError,
    PasswordMismatchError,
    SealboxError,
    UnsupportedAlgorithmError,
)

__all__ = [
    "BCRYPT_MAX_COST",
    "BCRYPT_MAX_PASSWORD_BYTES",
    "BCRYPT_PREFIXES",
    "DJANGO_PBKDF2",
    "PASSLIB_PBKDF2",
    "PBKDF2_MAX_ITERATIONS",
    "canonical_b64",
    "check_legacy_form",
    "unknown_scheme",
    "verify_bcrypt",
    "verify_passlib_pbkdf2",
    "verify_pbkdf2_sha256",
]

BCRYPT_MAX_COST: Final = 16
"""Highest bcrypt cost verified (2**16 rounds, several seconds): a guard against hostile hashes."""
PBKDF2_MAX_ITERATIONS: Final = 10_000_000
"""Most PBKDF2 iterations verified (seconds of work: 10 million SHA-256 rounds took 4 s on
a 2-core test machine): a guard against hostile hashes."""
BCRYPT_MAX_PASSWORD_BYTES: Final = 72
"""bcrypt hashed at most the first 72 bytes of a password; verification does the same."""
BCRYPT_PREFIXES: Final = ("$2a$", "$2b$", "$2y$")
_BCRYPT_RE: Final = re.compile(r"\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}")
DJANGO_PBKDF2: Final = "pbkdf2_sha256$"
PASSLIB_PBKDF2: Final = {"$pbkdf2-sha256$": "sha256", "$pbkdf2-sha512$": "sha512"}
_AB64_RE: Final = re.compile(r"[./A-Za-z0-9]*")
# PHC strings' base64: the standard alphabet, no padding (a length of 4n+1 is impossible).
_ARGON2_B64_RE: Final = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2,3})?")
_BCRYPT_B64: Final = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_TO_STANDARD_B64: Final = str.maketrans(
    _BCRYPT_B64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)
# The first member of a "$id$..." modular-crypt string, or the "name$" of a Django hash.
_SCHEME_RE: Final = re.compile(r"(\$[A-Za-z0-9_-]{1,20}\$|[A-Za-z0-9_]{1,30}\$)")


# Schemes named in the refusal of a hash sealbox cannot verify. Any other prefix is not
# quoted: an export that put a password where its hash belongs (``Summer2024$x``) would
# show its start in the message.
_NAMED_SCHEMES: Final = frozenset(
    {"$1$", "$2x$", "$5$", "$6$", "$7$", "$y$", "$gy$", "$md5$", "$sha1$", "$apr1$"}
    | {"$pbkdf2$", "$pbkdf2-sha1$", "$scrypt$", "$bcrypt-sha256$"}
    | {"sha1$", "md5$", "unsalted_md5$", "unsalted_sha1$", "crypt$", "pbkdf2_sha1$"}
    | {"bcrypt$", "bcrypt_sha256$", "scrypt$", "argon2$", "pbkdf2_sha512$"}
)


def unknown_scheme(text: str) -> SealboxError:
    m = _SCHEME_RE.match(text)
    if m is None:
        return FormatError("not a password hash")
    named = m.group(1) if m.group(1) in _NAMED_SCHEMES else None
    return UnsupportedAlgorithmError(
        f"password hash scheme {named!r} is not supported"
        if named
        else "the password hash's scheme is not one sealbox knows",
        hint="sealbox verifies argon2, bcrypt ($2a$/$2b$/$2y$), Django pbkdf2_sha256 and "
        "passlib $pbkdf2-sha256$/$pbkdf2-sha512$ hashes",
    )


def canonical_b64(text: str) -> bool:
    """Whether ``text`` is unpadded standard base64 with no spare bit set: the only form
    argon2's decoder (and bcrypt's, for its salt) reads."""
    if not _ARGON2_B64_RE.fullmatch(text):
        return False
    raw = base64.b64decode(text + "=" * (-len(text) % 4))
    return base64.b64encode(raw).decode("ascii").rstrip("=") == text


def verify_bcrypt(text: str, candidates: tuple[bytes, ...]) -> None:
    try:
        import bcrypt
    except ImportError:
        raise ExtraNotInstalledError("bcrypt", "bcrypt") from None
    _check_bcrypt_form(text)
    encoded = text.encode("ascii")
    for candidate in candidates:
        # bcrypt only ever used the first 72 bytes; bcrypt>=5 refuses longer input.
        try:
            if bcrypt.checkpw(candidate[:BCRYPT_MAX_PASSWORD_BYTES], encoded):
                return
        except ValueError:
            raise FormatError("the stored bcrypt hash is malformed") from None
    raise PasswordMismatchError


def check_legacy_form(text: str) -> None:
    if text.startswith(BCRYPT_PREFIXES):
        _check_bcrypt_form(text)
    elif text.startswith(tuple(PASSLIB_PBKDF2)):
        _parse_passlib_pbkdf2(text)
    else:
        _parse_pbkdf2_sha256(text)


def _check_bcrypt_form(text: str) -> None:
    m = _BCRYPT_RE.fullmatch(text)
    if m is None:
        raise FormatError("a bcrypt hash must be '$2b$' + 2-digit cost + '$' + 53 characters")
    cost = int(m.group(1))
    if not 4 <= cost <= BCRYPT_MAX_COST:
        raise FormatError(f"the bcrypt cost {cost} is outside 4..{BCRYPT_MAX_COST}")
    # 22 characters of salt (16 bytes) and 31 of hash (23 bytes): bcrypt never sets the
    # spare bits of their last characters, and refuses a salt with them set.
    standard = text[7:].translate(_TO_STANDARD_B64)
    if not (canonical_b64(standard[:22]) and canonical_b64(standard[22:])):
        raise FormatError("the stored bcrypt hash's salt or hash is not bcrypt's base64")


def verify_pbkdf2_sha256(text: str, candidates: tuple[bytes, ...]) -> None:
    iterations, salt, expected = _parse_pbkdf2_sha256(text)
    for candidate in candidates:
        derived = hashlib.pbkdf2_hmac("sha256", candidate, salt, iterations, len(expected))
        if hmac.compare_digest(derived, expected):
            return
    raise PasswordMismatchError


def _parse_pbkdf2_sha256(text: str) -> tuple[int, bytes, bytes]:
    # Django: pbkdf2_sha256$<iterations>$<salt>$<base64 of the derived key>
    parts = text.split("$")
    if len(parts) != 4 or not parts[1].isdigit() or not parts[2]:
        raise FormatError("a pbkdf2_sha256 hash must be 'pbkdf2_sha256$iterations$salt$hash'")
    iterations = int(parts[1])
    if not 1 <= iterations <= PBKDF2_MAX_ITERATIONS:
        raise FormatError(f"pbkdf2_sha256 iterations must be 1..{PBKDF2_MAX_ITERATIONS}")
    try:
        expected = base64.b64decode(parts[3], validate=True)
    except (binascii.Error, ValueError):
        raise FormatError("the pbkdf2_sha256 hash is not valid base64") from None
    if not 16 <= len(expected) <= 64:
        raise FormatError("the pbkdf2_sha256 hash must be 16 to 64 bytes")
    return iterations, parts[2].encode("ascii"), expected


def verify_passlib_pbkdf2(text: str, candidates: tuple[bytes, ...]) -> str:
    digest, iterations, salt, expected = _parse_passlib_pbkdf2(text)
    for candidate in candidates:
        derived = hashlib.pbkdf2_hmac(digest, candidate, salt, iterations, len(expected))
        if hmac.compare_digest(derived, expected):
            return digest
    raise PasswordMismatchError


def _parse_passlib_pbkdf2(text: str) -> tuple[str, int, bytes, bytes]:
    # passlib: $pbkdf2-<digest>$<rounds>$<ab64 salt>$<ab64 derived key of the digest's size>
    parts = text.split("$")
    digest = PASSLIB_PBKDF2.get(f"${parts[1]}$", "") if len(parts) > 1 else ""
    form = f"a passlib pbkdf2-{digest} hash must be '$pbkdf2-{digest}$rounds$salt$hash'"
    if len(parts) != 5 or not parts[2].isdigit() or not digest:
        raise FormatError(form)
    iterations = int(parts[2])
    if not 1 <= iterations <= PBKDF2_MAX_ITERATIONS:
        raise FormatError(f"pbkdf2-{digest} rounds must be 1..{PBKDF2_MAX_ITERATIONS}")
    salt, expected = _ab64(parts[3], form), _ab64(parts[4], form)
    if len(expected) != hashlib.new(digest).digest_size:
        raise FormatError(form)
    return digest, iterations, salt, expected


def _ab64(text: str, form: str) -> bytes:
    # passlib's adapted base64: the standard alphabet with "." for "+", no padding.
    if not _AB64_RE.fullmatch(text) or len(text) % 4 == 1:
        raise FormatError(form)
    try:
        return base64.b64decode(text.replace(".", "+") + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise FormatError(form) from None
