"""The hashes Flask apps store (Werkzeug's ``generate_password_hash``), which sealbox
verifies and upgrades at the next login.

Two forms, ``<method>$<salt>$<hex of the derived key>``:

* ``pbkdf2:<digest>:<iterations>$…``: PBKDF2-HMAC with ``sha256``, ``sha512`` or ``sha1``
  (Werkzeug before 2.3 wrote ``sha1``; it still reads it), a key of the digest's size. A
  hash that names no iteration count (``pbkdf2:sha256$…``) is refused: Werkzeug reads it
  with its own default of the day, which has changed between versions (150 000, 260 000,
  600 000, 1 000 000), so which count made the hash is not for sealbox to guess;
* ``scrypt:<n>:<r>:<p>$…``: scrypt (Werkzeug 3's default, ``scrypt:32768:8:1``), a key of
  64 bytes.

The salt is used as its UTF-8 text, as Werkzeug uses it (never decoded), and the key is
lowercase hex, as Werkzeug writes and compares it. Each hash is checked whole before any
work: PBKDF2 within the ceilings of the other PBKDF2 hashes, scrypt within
:data:`SCRYPT_MAX_MEMORY` and :data:`SCRYPT_MAX_WORK`
(:class:`~sealbox.passwords._foreign.HashTooCostlyError`).

May import: :mod:`sealbox.exceptions`, :mod:`sealbox.passwords._foreign` and the standard
library.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Final

from sealbox.exceptions import FormatError, PasswordMismatchError, UnsupportedAlgorithmError
from sealbox.passwords._foreign import (
    COSTLY_HINT,
    PBKDF2_MAX,
    HashTooCostlyError,
    pbkdf2_iterations,
)

__all__ = [
    "SCRYPT_MAX_MEMORY",
    "SCRYPT_MAX_WORK",
    "WERKZEUG_PREFIXES",
    "check_werkzeug_form",
    "verify_werkzeug",
]

WERKZEUG_PREFIXES: Final = ("pbkdf2:", "scrypt:")
"""The prefixes of the Werkzeug forms (Django's ``scrypt$`` is not one of them)."""
SCRYPT_MAX_MEMORY: Final = 1 << 30
"""Most memory (bytes) a Werkzeug scrypt hash may ask for, ``128 * r * (n + p + 2)``:
1 GiB, the largest power of two Python's ``hashlib.scrypt`` lets one check use (its
``maxmem`` stays below 2 GiB). Werkzeug's default asks for 32 MiB."""
SCRYPT_MAX_WORK: Final = 1 << 24
"""Most ``n * r * p`` a Werkzeug scrypt hash may ask for: its ``p`` passes of 128 bytes
times ``n * r`` then cover at most 2 GiB, about the work of one pass of sealbox's strongest
Argon2 profile."""
SCRYPT_KEY_BYTES: Final = 64
"""The key length Werkzeug writes for scrypt (``hashlib.scrypt``'s default)."""
# Digests Werkzeug can write that sealbox does not verify, named in the refusal.
_NAMED_DIGESTS: Final = frozenset({"sha224", "sha384"})
# Numbers of at most 10 digits: enough for any ceiling, and no huge text read as an int.
_PBKDF2_RE: Final = re.compile(r"pbkdf2(?::([A-Za-z0-9_]{1,20})(?::([0-9]{1,10}))?)?")
_SCRYPT_RE: Final = re.compile(r"scrypt:([0-9]{1,10}):([0-9]{1,10}):([0-9]{1,10})")
_HEX_RE: Final = re.compile(r"[0-9a-f]+")


def verify_werkzeug(text: str, candidates: tuple[bytes, ...]) -> str:
    """Verify a Werkzeug hash (one of :data:`WERKZEUG_PREFIXES`); return its scheme's name
    (``pbkdf2:sha256``, ``scrypt``…).

    Raises:
        PasswordMismatchError: no candidate matches.
        FormatError: malformed (or a PBKDF2 hash without its iteration count).
        HashTooCostlyError: above the ceilings.
        UnsupportedAlgorithmError: a PBKDF2 digest sealbox does not verify.
    """
    scheme, derive, expected = _parse(text)
    for candidate in candidates:
        if hmac.compare_digest(derive(candidate), expected):
            return scheme
    raise PasswordMismatchError


def check_werkzeug_form(text: str) -> None:
    """Check a Werkzeug hash whole, doing no work on a password (its errors are
    :func:`verify_werkzeug`'s)."""
    _parse(text)


class _Pbkdf2:
    def __init__(self, digest: str, iterations: int, salt: bytes, size: int) -> None:
        self.digest, self.iterations, self.salt, self.size = digest, iterations, salt, size

    def __call__(self, password: bytes) -> bytes:
        return hashlib.pbkdf2_hmac(self.digest, password, self.salt, self.iterations, self.size)


class _Scrypt:
    def __init__(self, n: int, r: int, p: int, salt: bytes) -> None:
        self.n, self.r, self.p, self.salt = n, r, p, salt

    def __call__(self, password: bytes) -> bytes:
        n, r, p = self.n, self.r, self.p
        return hashlib.scrypt(
            password,
            salt=self.salt,
            n=n,
            r=r,
            p=p,
            maxmem=_scrypt_memory(n, r, p),
            dklen=SCRYPT_KEY_BYTES,
        )


def _parse(text: str) -> tuple[str, _Pbkdf2 | _Scrypt, bytes]:
    parts = text.split("$")
    method = parts[0]
    if method.startswith("scrypt"):
        scheme, form = "scrypt", "a Werkzeug scrypt hash must be 'scrypt:n:r:p$salt$hex'"
    else:
        scheme = "pbkdf2"
        form = "a Werkzeug pbkdf2 hash must be 'pbkdf2:digest:iterations$salt$hex'"
    if len(parts) != 3:
        raise FormatError(form)
    salt, key = _salt(parts[1], scheme), _hex(parts[2], scheme)
    if scheme == "scrypt":
        m = _SCRYPT_RE.fullmatch(method)
        if m is None:
            raise FormatError(form)
        n, r, p = (int(g) for g in m.groups())
        _check_scrypt(n, r, p)
        if len(key) != SCRYPT_KEY_BYTES:
            raise FormatError(
                f"the scrypt hash must be {SCRYPT_KEY_BYTES} bytes, as Werkzeug writes it"
            )
        return scheme, _Scrypt(n, r, p, salt), key
    m = _PBKDF2_RE.fullmatch(method)
    if m is None:
        raise FormatError(form)
    digest, count = m.group(1) or "sha256", m.group(2)
    name = f"pbkdf2:{digest}"
    if digest not in PBKDF2_MAX:
        # Named only when it is a digest name sealbox knows: the text there could be anything.
        known = digest in _NAMED_DIGESTS
        raise UnsupportedAlgorithmError(
            f"password hash scheme {name!r} (Werkzeug) is not supported"
            if known
            else "the Werkzeug pbkdf2 hash's digest is not one sealbox verifies",
            facts={"scheme": name if known else "pbkdf2"},
            hint="sealbox verifies Werkzeug pbkdf2 hashes with sha256, sha512 or sha1",
        )
    if count is None:
        raise FormatError(
            f"the {name} hash names no iteration count: Werkzeug reads such a hash with its "
            "version's default (150000, 260000, 600000, 1000000), and sealbox does not guess "
            "which one made it",
            hint=f"write the count into the hash ('{name}:<iterations>$…') if it is known",
        )
    iterations = pbkdf2_iterations(f"{name} iterations", digest, int(count), name)
    size = hashlib.new(digest).digest_size
    if len(key) != size:
        raise FormatError(f"the {name} hash must be {size} bytes, as Werkzeug writes it")
    return name, _Pbkdf2(digest, iterations, salt, size), key


def _check_scrypt(n: int, r: int, p: int) -> None:
    if n < 2 or n & (n - 1) or r < 1 or p < 1:
        raise FormatError("scrypt needs n a power of two above 1, and r and p of at least 1")
    memory, work = _scrypt_memory(n, r, p), n * r * p
    if memory > SCRYPT_MAX_MEMORY or work > SCRYPT_MAX_WORK:
        raise HashTooCostlyError(
            f"scrypt n={n}, r={r}, p={p} is above the accepted maximum: 128*r*(n+p+2) <= "
            f"{SCRYPT_MAX_MEMORY} bytes and n*r*p <= {SCRYPT_MAX_WORK}",
            hint=COSTLY_HINT,
            facts={"scheme": "scrypt", "n": str(n), "r": str(r), "p": str(p)},
        )


def _scrypt_memory(n: int, r: int, p: int) -> int:
    # What OpenSSL's scrypt allocates (and checks against maxmem): p blocks of 128*r bytes
    # and a table of n + 2 more.
    return 128 * r * (n + p + 2)


def _salt(text: str, scheme: str) -> bytes:
    if not text:
        raise FormatError(f"the Werkzeug {scheme} hash has an empty salt")
    return text.encode("utf-8")


def _hex(text: str, scheme: str) -> bytes:
    if not _HEX_RE.fullmatch(text) or len(text) % 2:
        raise FormatError(f"the Werkzeug {scheme} hash's key must be lowercase hex")
    return bytes.fromhex(text)
