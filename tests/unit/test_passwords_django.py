"""Django's password hashers as Django writes them: pbkdf2_sha256 and pbkdf2_sha1 with the
key length of their digest, bcrypt_sha256 and plain bcrypt. Each reference hash is built from Django's
published algorithm (django.contrib.auth.hashers), Django itself not being installed."""

from __future__ import annotations

import base64
import binascii
import hashlib

import pytest

from sealbox.exceptions import FormatError, PasswordMismatchError
from sealbox.passwords import HashTooCostlyError, PasswordCheck, PasswordHasher, hash_scheme

HASHER = PasswordHasher("test")
# Django's PBKDF2 iteration count is the same for both digests; fewer keep the tests fast.
ITERATIONS = 1000


def django_pbkdf2(
    password: str, digest: str = "sha256", salt: str = "KdGsOTS5vCVnJ8", dklen: int | None = None
) -> str:
    """PBKDF2PasswordHasher / PBKDF2SHA1PasswordHasher.encode: the digest's full size
    (``dklen=None``) unless a test asks for another length."""
    key = hashlib.pbkdf2_hmac(digest, password.encode(), salt.encode(), ITERATIONS, dklen)
    return f"pbkdf2_{digest}${ITERATIONS}${salt}${base64.b64encode(key).decode('ascii').strip()}"


def django_bcrypt_sha256(password: str) -> str:
    """BCryptSHA256PasswordHasher.encode: bcrypt over hexlify(sha256(password))."""
    bcrypt = pytest.importorskip("bcrypt")
    prehashed = binascii.hexlify(hashlib.sha256(password.encode()).digest())
    return "bcrypt_sha256$" + bcrypt.hashpw(prehashed, bcrypt.gensalt(4)).decode("ascii")


def django_bcrypt(password: str) -> str:
    """BCryptPasswordHasher.encode: "bcrypt$" + bcrypt over the password as typed (its
    ``digest`` is None; bcrypt before 5 used the first 72 bytes, bcrypt 5 refuses more)."""
    bcrypt = pytest.importorskip("bcrypt")
    typed = password.encode()[:72]
    return "bcrypt$" + bcrypt.hashpw(typed, bcrypt.gensalt(4)).decode("ascii")


@pytest.mark.parametrize("dklen", [16, 31, 33, 64])
def test_a_pbkdf2_sha256_hash_of_another_length_than_djangos_32_bytes_is_refused(dklen):
    # A 16-byte key verified (half the bits to guess against), a 64-byte one cost twice
    # the work: Django writes neither.
    stored = django_pbkdf2("correct horse", dklen=dklen)
    with pytest.raises(FormatError, match="must be 32 bytes, as Django writes it"):
        HASHER.verify(stored, "correct horse")
    with pytest.raises(FormatError, match="must be 32 bytes"):
        HASHER.needs_rehash(stored)


def test_a_pbkdf2_sha256_hash_as_django_writes_it_verifies() -> None:
    stored = django_pbkdf2("correct horse")
    assert HASHER.verify(stored, "correct horse") == PasswordCheck("pbkdf2_sha256", True)


def test_a_django_pbkdf2_sha1_hash_verifies_and_is_upgraded() -> None:
    stored = django_pbkdf2("correct horse", "sha1")
    assert stored.startswith("pbkdf2_sha1$1000$")
    assert HASHER.needs_rehash(stored) is True
    assert HASHER.verify(stored, "correct horse") == PasswordCheck("pbkdf2_sha1", True)
    with pytest.raises(PasswordMismatchError):
        HASHER.verify(stored, "correct horsE")
    new = HASHER.verify_and_update(stored, "correct horse")
    assert new is not None and new.startswith("$argon2id$")
    assert HASHER.verify(new, "correct horse").needs_rehash is False


@pytest.mark.parametrize("dklen", [16, 32])
def test_a_pbkdf2_sha1_hash_of_another_length_than_djangos_20_bytes_is_refused(dklen):
    stored = django_pbkdf2("pw", "sha1", dklen=dklen)
    with pytest.raises(FormatError, match="pbkdf2_sha1 hash must be 20 bytes"):
        HASHER.verify(stored, "pw")


def test_a_django_bcrypt_sha256_hash_verifies_and_is_upgraded() -> None:
    stored = django_bcrypt_sha256("tr0ub4dor&3")
    assert HASHER.needs_rehash(stored) is True
    assert HASHER.verify(stored, "tr0ub4dor&3") == PasswordCheck("bcrypt_sha256", True)
    with pytest.raises(PasswordMismatchError):
        HASHER.verify(stored, "tr0ub4dor&4")
    new = HASHER.verify_and_update(stored, "tr0ub4dor&3")
    assert new is not None and new.startswith("$argon2id$")


def test_bcrypt_sha256_tells_passwords_apart_beyond_bcrypts_72_bytes() -> None:
    # The reason Django hashes first: plain bcrypt would see the same 72 bytes.
    long = "p" * 100
    stored = django_bcrypt_sha256(long)
    assert HASHER.verify(stored, long).scheme == "bcrypt_sha256"
    with pytest.raises(PasswordMismatchError):
        HASHER.verify(stored, long[:72])


def test_a_django_plain_bcrypt_hash_verifies_and_is_upgraded() -> None:
    stored = django_bcrypt("tr0ub4dor&3")
    assert stored.startswith("bcrypt$$2b$04$")
    assert HASHER.needs_rehash(stored) is True
    assert HASHER.verify(stored, "tr0ub4dor&3") == PasswordCheck("bcrypt", True)
    with pytest.raises(PasswordMismatchError):
        HASHER.verify(stored, "tr0ub4dor&4")
    new = HASHER.verify_and_update(stored, "tr0ub4dor&3")
    assert new is not None and new.startswith("$argon2id$")
    assert HASHER.verify(new, "tr0ub4dor&3").needs_rehash is False


def test_a_django_plain_bcrypt_hash_counts_the_first_72_bytes_as_bcrypt_did() -> None:
    long = "p" * 100
    stored = django_bcrypt(long)
    assert HASHER.verify(stored, long).scheme == "bcrypt"
    assert HASHER.verify(stored, long[:72]).scheme == "bcrypt"


def test_a_django_plain_bcrypt_hash_above_the_cost_ceiling_is_refused_before_any_work() -> None:
    stored = django_bcrypt("pw").replace("$2b$04$", "$2b$16$", 1)
    with pytest.raises(HashTooCostlyError, match="bcrypt cost 16"):
        HASHER.needs_rehash(stored)
    with pytest.raises(HashTooCostlyError):
        HASHER.verify(stored, "pw")


@pytest.mark.parametrize(
    "make", [django_bcrypt_sha256, django_bcrypt, lambda pw: django_pbkdf2(pw, "sha1")]
)
def test_django_hashes_of_a_password_nfkc_changes_verify_as_typed(make) -> None:
    typed = "e\u0301t\u00e9 \uff50ass"  # Django hashed password.encode(), not normalised
    assert HASHER.verify(make(typed), typed).needs_rehash


@pytest.mark.parametrize(
    "stored",
    [
        "bcrypt_sha256$$2b$04$short",
        "bcrypt_sha256$" + "$2b$04$" + "!" * 53,
        "bcrypt_sha256$",
        "bcrypt$$2b$04$short",
        "bcrypt$",
        "bcrypt$bcrypt_sha256$$2b$04$" + "a" * 53,
        "pbkdf2_sha1$1000$salt",
        "pbkdf2_sha1$0$salt$" + "A" * 27 + "=",
        "pbkdf2_sha1$1000$salt$not*base64",
    ],
)
def test_malformed_django_bcrypt_and_pbkdf2_sha1_hashes_are_refused(stored) -> None:
    pytest.importorskip("bcrypt")
    with pytest.raises(FormatError):
        HASHER.needs_rehash(stored)
    with pytest.raises(FormatError):
        HASHER.verify(stored, "pw")


@pytest.mark.parametrize(
    ("stored", "scheme"),
    [
        ("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA", "argon2id"),
        ("argon2$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA", "argon2i"),
        ("$2b$04$" + "a" * 53, "bcrypt"),
        ("bcrypt$$2b$04$" + "a" * 53, "bcrypt"),
        ("bcrypt_sha256$$2b$04$" + "a" * 53, "bcrypt_sha256"),
        ("pbkdf2_sha1$1000$salt$hash", "pbkdf2_sha1"),
        ("$pbkdf2-sha512$1000$salt$hash", "passlib_pbkdf2_sha512"),
        ("$6$rounds=5000$salt$hash", "$6$"),
        ("Summer2024$x", "unknown"),  # a password where its hash belongs: never quoted
        ("", "unknown"),
    ],
)
def test_hash_scheme_names_the_scheme_and_never_more_of_the_hash(stored, scheme) -> None:
    assert hash_scheme(stored) == scheme
