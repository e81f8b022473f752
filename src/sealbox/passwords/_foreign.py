"""Hashes other tools made, which sealbox verifies and upgrades at the next login:
bcrypt (``$2a$``/``$2b$``/``$2y$``), Django's ``pbkdf2_sha256$``, ``pbkdf2_sha1$``,
``bcrypt_sha256$`` and ``bcrypt$``, passlib's ``$pbkdf2-sha256$``/``$pbkdf2-sha512$``
(Werkzeug's ``pbkdf2:…`` and ``scrypt:…`` are :mod:`~sealbox.passwords._werkzeug`'s); and
the refusal of any other scheme, a known one by name.

Each form is checked whole before any work: a hostile hash cannot ask for more work than
about one pass of sealbox's strongest Argon2 profile (:class:`HashTooCostlyError`), and a
Django hash must have the key length Django writes. Verification runs over every
candidate encoding of the password that
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
    "DJANGO_BCRYPT",
    "DJANGO_BCRYPT_SHA256",
    "DJANGO_PBKDF2",
    "DJANGO_PBKDF2_KEY_BYTES",
    "LEGACY_PREFIXES",
    "PASSLIB_PBKDF2",
    "PBKDF2_MAX",
    "PBKDF2_MAX_ITERATIONS",
    "PBKDF2_SHA512_MAX_ITERATIONS",
    "HashTooCostlyError",
    "canonical_b64",
    "check_legacy_form",
    "pbkdf2_iterations",
    "scheme_name",
    "unknown_scheme",
    "verify_bcrypt",
    "verify_django_bcrypt",
    "verify_django_bcrypt_sha256",
    "verify_django_pbkdf2",
    "verify_passlib_pbkdf2",
]


class HashTooCostlyError(FormatError):
    """A stored or imported hash asks for more work than sealbox spends on one check.

    Every login attempt against such an account, a wrong password included, would cost
    that work: a hash planted through an import file would be a denial of service.
    """

    code = "hash_too_costly"


#: The hint of :class:`HashTooCostlyError`: only a new password makes such an account usable.
COSTLY_HINT: Final = "every login attempt would cost that work; reset the account's password"

# The ceilings below keep one check of a hash that came from elsewhere to about the work
# of sealbox's strongest profile (rfc9106-high-memory: one pass over 2 GiB); a bcrypt cost
# one higher, or twice the PBKDF2 rounds, would double it.
BCRYPT_MAX_COST: Final = 15
"""Highest bcrypt cost verified (2**15 rounds): a guard against hostile hashes."""
PBKDF2_MAX_ITERATIONS: Final = 10_000_000
"""Most PBKDF2-HMAC-SHA1/SHA256 iterations verified (about 8 times Django's default): a
guard against hostile hashes."""
PBKDF2_SHA512_MAX_ITERATIONS: Final = 5_000_000
"""Most PBKDF2-HMAC-SHA512 iterations verified: each costs about two SHA-256 ones."""
PBKDF2_MAX: Final = {
    "sha1": PBKDF2_MAX_ITERATIONS,
    "sha256": PBKDF2_MAX_ITERATIONS,
    "sha512": PBKDF2_SHA512_MAX_ITERATIONS,
}
BCRYPT_MAX_PASSWORD_BYTES: Final = 72
"""bcrypt hashed at most the first 72 bytes of a password; verification does the same."""
BCRYPT_PREFIXES: Final = ("$2a$", "$2b$", "$2y$")
_BCRYPT_RE: Final = re.compile(r"\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}")
# Django's PBKDF2 hashers: the digest, and the key length Django writes (the digest's size,
# its ``dklen`` left at 0): a shorter key verifies with less work to guess, a longer one
# costs more to check, and Django writes neither.
DJANGO_PBKDF2: Final = {"pbkdf2_sha256$": "sha256", "pbkdf2_sha1$": "sha1"}
DJANGO_PBKDF2_KEY_BYTES: Final = {"sha256": 32, "sha1": 20}
# Django's BCryptSHA256PasswordHasher: "bcrypt_sha256$" + bcrypt over the hex SHA-256 of
# the password (so no password is cut at bcrypt's 72 bytes).
DJANGO_BCRYPT_SHA256: Final = "bcrypt_sha256$"
# Django's BCryptPasswordHasher: "bcrypt$" + bcrypt over the password as typed (so, as
# bcrypt did, its first 72 bytes).
DJANGO_BCRYPT: Final = "bcrypt$"
PASSLIB_PBKDF2: Final = {"$pbkdf2-sha256$": "sha256", "$pbkdf2-sha512$": "sha512"}
LEGACY_PREFIXES: Final = (
    *BCRYPT_PREFIXES,
    DJANGO_BCRYPT_SHA256,
    DJANGO_BCRYPT,
    *DJANGO_PBKDF2,
    *PASSLIB_PBKDF2,
)
"""The prefixes of every hash verified here (Argon2 is the hasher's own)."""
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
    | {"sha1$", "md5$", "unsalted_md5$", "unsalted_sha1$", "crypt$"}
    | {"scrypt$", "argon2$", "pbkdf2_sha512$"}
)


# Werkzeug's generate_password_hash (Flask apps): "<method>$<salt>$<hex>", the method
# "pbkdf2:<digest>:<iterations>" or "scrypt:<n>:<r>:<p>" (verified by _werkzeug); named
# without the numbers (and not Django's "scrypt$").
_WERKZEUG_RE: Final = re.compile(
    r"(?:(pbkdf2:(?:sha1|sha224|sha256|sha384|sha512))(?::[0-9]{1,10})?"
    r"|(scrypt)(?::[0-9]{1,10}){3})\$"
)


def unknown_scheme(text: str) -> SealboxError:
    m = _SCHEME_RE.match(text)
    if m is not None:
        named = m.group(1) if m.group(1) in _NAMED_SCHEMES else None
        said = f"password hash scheme {named!r} is not supported"
    elif text.startswith("!"):
        # Django's set_unusable_password(): "!" and random characters, no hash at all.
        return FormatError(
            "Django's mark of an unusable password ('!'), not a hash: the account has no "
            "password to verify"
        )
    else:
        return FormatError("not a password hash")
    return UnsupportedAlgorithmError(
        said if named else "the password hash's scheme is not one sealbox knows",
        facts={"scheme": named} if named else {},
        hint="sealbox verifies argon2, bcrypt ($2a$/$2b$/$2y$), Django pbkdf2_sha256, "
        "pbkdf2_sha1, bcrypt_sha256 and bcrypt, passlib $pbkdf2-sha256$/$pbkdf2-sha512$, and "
        "Werkzeug pbkdf2:sha256/sha512/sha1 and scrypt hashes",
    )


def scheme_name(text: str) -> str | None:
    """The name of a legacy hash's scheme (as :class:`PasswordCheck` says it), of a scheme
    named in refusals (``$6$``), or ``None``: never more of the text than a known prefix."""
    if text.startswith((*BCRYPT_PREFIXES, DJANGO_BCRYPT)):
        return "bcrypt"
    if text.startswith(DJANGO_BCRYPT_SHA256):
        return DJANGO_BCRYPT_SHA256[:-1]
    for prefix, digest in DJANGO_PBKDF2.items():
        if text.startswith(prefix):
            return f"pbkdf2_{digest}"
    for prefix, digest in PASSLIB_PBKDF2.items():
        if text.startswith(prefix):
            return f"passlib_pbkdf2_{digest}"
    werkzeug = _WERKZEUG_RE.match(text)
    if werkzeug is not None:
        return werkzeug.group(1) or werkzeug.group(2)
    m = _SCHEME_RE.match(text)
    return m.group(1) if m is not None and m.group(1) in _NAMED_SCHEMES else None


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


def verify_django_bcrypt_sha256(text: str, candidates: tuple[bytes, ...]) -> None:
    # Django hashed password.encode() as typed; the candidates include that form.
    digests = tuple(hashlib.sha256(c).hexdigest().encode("ascii") for c in candidates)
    verify_bcrypt(text[len(DJANGO_BCRYPT_SHA256) :], digests)


def verify_django_bcrypt(text: str, candidates: tuple[bytes, ...]) -> None:
    # Django hashed password.encode() as typed, through bcrypt's first 72 bytes.
    verify_bcrypt(text[len(DJANGO_BCRYPT) :], candidates)


def check_legacy_form(text: str) -> None:
    """Check a hash of one of :data:`LEGACY_PREFIXES` whole, doing no work on a password.

    Raises:
        FormatError: malformed.
        HashTooCostlyError: above the ceilings.
    """
    if text.startswith(BCRYPT_PREFIXES):
        _check_bcrypt_form(text)
    elif text.startswith(DJANGO_BCRYPT_SHA256):
        _check_bcrypt_form(text[len(DJANGO_BCRYPT_SHA256) :])
    elif text.startswith(DJANGO_BCRYPT):
        _check_bcrypt_form(text[len(DJANGO_BCRYPT) :])
    elif text.startswith(tuple(PASSLIB_PBKDF2)):
        _parse_passlib_pbkdf2(text)
    else:
        _parse_django_pbkdf2(text)


def _check_bcrypt_form(text: str) -> None:
    m = _BCRYPT_RE.fullmatch(text)
    if m is None:
        raise FormatError("a bcrypt hash must be '$2b$' + 2-digit cost + '$' + 53 characters")
    cost = int(m.group(1))
    if cost < 4:
        raise FormatError(f"the bcrypt cost {cost} is below bcrypt's least, 4")
    if cost > BCRYPT_MAX_COST:
        raise HashTooCostlyError(
            f"the bcrypt cost {cost} is above the accepted maximum {BCRYPT_MAX_COST}",
            hint=COSTLY_HINT,
            facts={"scheme": "bcrypt", "cost": str(cost)},
        )
    # 22 characters of salt (16 bytes) and 31 of hash (23 bytes): bcrypt never sets the
    # spare bits of their last characters, and refuses a salt with them set.
    standard = text[7:].translate(_TO_STANDARD_B64)
    if not (canonical_b64(standard[:22]) and canonical_b64(standard[22:])):
        raise FormatError("the stored bcrypt hash's salt or hash is not bcrypt's base64")


def verify_django_pbkdf2(text: str, candidates: tuple[bytes, ...]) -> str:
    """Verify a Django ``pbkdf2_sha256$`` or ``pbkdf2_sha1$`` hash; return its digest."""
    digest, iterations, salt, expected = _parse_django_pbkdf2(text)
    for candidate in candidates:
        derived = hashlib.pbkdf2_hmac(digest, candidate, salt, iterations, len(expected))
        if hmac.compare_digest(derived, expected):
            return digest
    raise PasswordMismatchError


def _parse_django_pbkdf2(text: str) -> tuple[str, int, bytes, bytes]:
    # Django: pbkdf2_<digest>$<iterations>$<salt>$<base64 of the derived key>
    parts = text.split("$")
    digest = DJANGO_PBKDF2.get(f"{parts[0]}$", "sha256")
    name = f"pbkdf2_{digest}"
    if len(parts) != 4 or not parts[1].isdigit() or not parts[2]:
        raise FormatError(f"a {name} hash must be '{name}$iterations$salt$hash'")
    iterations = pbkdf2_iterations(f"{name} iterations", digest, int(parts[1]), name)
    try:
        expected = base64.b64decode(parts[3], validate=True)
    except (binascii.Error, ValueError):
        raise FormatError(f"the {name} hash is not valid base64") from None
    size = DJANGO_PBKDF2_KEY_BYTES[digest]
    if len(expected) != size:
        raise FormatError(f"the {name} hash must be {size} bytes, as Django writes it")
    return digest, iterations, parts[2].encode("ascii"), expected


def pbkdf2_iterations(what: str, digest: str, iterations: int, scheme: str) -> int:
    ceiling = PBKDF2_MAX[digest]
    if iterations < 1:
        raise FormatError(f"{what} must be 1..{ceiling}")
    if iterations > ceiling:
        raise HashTooCostlyError(
            f"{what} must be 1..{ceiling}: {iterations} is above the accepted maximum",
            hint=COSTLY_HINT,
            facts={"scheme": scheme, "iterations": str(iterations)},
        )
    return iterations


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
    iterations = pbkdf2_iterations(
        f"pbkdf2-{digest} rounds", digest, int(parts[2]), f"passlib_pbkdf2_{digest}"
    )
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
