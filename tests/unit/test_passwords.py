"""sealbox.passwords and sealbox.passwords.profiles: hashing, verification, rehash, legacy, limits."""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import unicodedata

import argon2
import pytest
from argon2.low_level import Type, hash_secret

from sealbox.exceptions import (
    ConfigError,
    FormatError,
    PasswordMismatchError,
    PasswordTooLongError,
    UnsupportedAlgorithmError,
)
from sealbox.passwords import (
    BCRYPT_MAX_COST,
    MAX_PASSWORD_LENGTH,
    PasswordCheck,
    PasswordHasher,
    calibrate,
    profiles,
)
from sealbox.secret import Secret

# Cheap but distinct parameters so the tests can tell "current" from "old".
CHEAP = argon2.Parameters(
    type=Type.ID, version=19, salt_len=16, hash_len=32, time_cost=2, memory_cost=16, parallelism=1
)


@pytest.fixture
def hasher() -> PasswordHasher:
    return PasswordHasher("test")


def django_pbkdf2(password: bytes, salt: str = "seasalt", iterations: int = 1000) -> str:
    """The Django PBKDF2PasswordHasher encoding, built from the published algorithm."""
    dk = hashlib.pbkdf2_hmac("sha256", password, salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(dk).decode()}"


# -- profiles ---------------------------------------------------------------------------


def test_profiles_have_their_published_parameters():
    low = profiles.RFC_9106_LOW_MEMORY
    assert (low.time_cost, low.memory_cost, low.parallelism) == (3, 65536, 4)
    high = profiles.RFC_9106_HIGH_MEMORY
    assert (high.time_cost, high.memory_cost, high.parallelism) == (1, 2 * 1024 * 1024, 4)
    owasp = profiles.OWASP_MINIMUM
    assert (owasp.time_cost, owasp.memory_cost, owasp.parallelism) == (2, 19 * 1024, 1)
    recipe = profiles.RECIPE
    assert (recipe.time_cost, recipe.memory_cost, recipe.parallelism) == (2, 65536, 4)
    assert all(p.type is Type.ID and p.hash_len == 32 for p in profiles.PROFILES.values())
    # The default is argon2-cffi's own default (RFC 9106 low memory).
    assert low == argon2.profiles.RFC_9106_LOW_MEMORY
    assert profiles.DEFAULT_PROFILE == "rfc9106-low-memory"


def test_unknown_profile_lists_the_known_ones():
    with pytest.raises(ConfigError, match=r"unknown password profile 'fast'.*owasp-minimum"):
        PasswordHasher("fast")


def test_default_hasher_uses_the_default_profile():
    hasher = PasswordHasher()
    assert hasher.profile == "rfc9106-low-memory"
    assert hasher.parameters == profiles.RFC_9106_LOW_MEMORY
    assert repr(hasher) == "PasswordHasher(profile='rfc9106-low-memory', t=3, m=65536KiB, p=4)"


def test_default_profile_hash_has_rfc9106_parameters():
    # The one test that pays for the real default (about 0.1 s).
    stored = PasswordHasher().hash("pw")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert argon2.PasswordHasher().verify(stored, "pw")


def test_custom_parameters_must_be_argon2id():
    with pytest.raises(ConfigError, match="Argon2id only"):
        PasswordHasher(argon2.Parameters(Type.I, 19, 16, 32, 1, 8, 1))
    with pytest.raises(TypeError):
        PasswordHasher(42)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        PasswordHasher("test", max_length=0)
    assert PasswordHasher(CHEAP).profile is None


# -- hash and verify ----------------------------------------------------------------------


def test_hash_is_phc_string_and_salted(hasher):
    a, b = hasher.hash("hunter2"), hasher.hash("hunter2")
    assert a.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert a != b
    assert hasher.verify(a, "hunter2") == PasswordCheck("argon2id", needs_rehash=False)


def test_hash_verifies_with_plain_argon2_cffi(hasher):
    stored = hasher.hash("hunter2")
    assert argon2.PasswordHasher().verify(stored, "hunter2")


def test_wrong_password_raises_opaque_mismatch(hasher):
    stored = hasher.hash("hunter2")
    with pytest.raises(PasswordMismatchError) as exc:
        hasher.verify(stored, "hunter3")
    assert str(exc.value) == "password does not match"


@pytest.mark.parametrize("form", [str, bytes, Secret])
def test_password_types(hasher, form):
    value = "pässwörd"
    password = value.encode() if form is bytes else form(value)
    stored = hasher.hash(password)
    assert hasher.verify(stored, value.encode()).needs_rehash is False


def test_bytes_hash_argument(hasher):
    stored = hasher.hash("pw")
    assert hasher.verify(stored.encode(), "pw").scheme == "argon2id"


def test_type_errors(hasher):
    with pytest.raises(TypeError):
        hasher.hash(123)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        hasher.verify(123, "pw")  # type: ignore[arg-type]


# -- normalisation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "other"),
    [
        ("e\u0301t\u00e9", "\u00e9t\u00e9"),  # decomposed vs composed é
        ("\uff50\uff41\uff53\uff53", "pass"),  # full-width letters
        ("\ufb01le", "file"),  # the "fi" ligature
        ("\u2126", "\u03a9"),  # OHM SIGN vs GREEK CAPITAL OMEGA
    ],
)
def test_nfkc_normalisation_matches_equivalent_forms(hasher, typed, other):
    stored = hasher.hash(typed)
    assert hasher.verify(stored, other) == PasswordCheck("argon2id", needs_rehash=False)
    # The hash is of the NFKC form, so plain argon2-cffi agrees on that form.
    assert argon2.PasswordHasher().verify(stored, unicodedata.normalize("NFKC", typed))


def test_old_hash_of_unnormalised_password_verifies_and_asks_for_rehash(hasher):
    typed = "\uff50\uff41\uff53\uff53"  # what an older system hashed as typed
    legacy = argon2.PasswordHasher.from_parameters(profiles.TEST).hash(typed)
    check = hasher.verify(legacy, typed)
    assert check == PasswordCheck("argon2id", needs_rehash=True)
    new = hasher.verify_and_update(legacy, typed)
    assert new is not None
    assert hasher.verify(new, "pass").needs_rehash is False


# -- length guard -------------------------------------------------------------------------


def test_too_long_password_is_refused_before_hashing(hasher):
    with pytest.raises(PasswordTooLongError) as exc:
        hasher.hash("x" * (MAX_PASSWORD_LENGTH + 1))
    assert str(exc.value) == f"the password is longer than {MAX_PASSWORD_LENGTH} characters"
    assert exc.value.limit == MAX_PASSWORD_LENGTH
    assert isinstance(exc.value, ConfigError)
    assert isinstance(exc.value, ValueError)


def test_too_long_password_refused_on_verify_too(hasher):
    stored = hasher.hash("pw")
    with pytest.raises(PasswordTooLongError):
        hasher.verify(stored, b"x" * (MAX_PASSWORD_LENGTH + 1))


def test_length_limit_is_configurable_and_inclusive():
    hasher = PasswordHasher("test", max_length=8)
    assert hasher.max_length == 8
    hasher.hash("12345678")
    with pytest.raises(PasswordTooLongError, match="longer than 8 characters"):
        hasher.hash("123456789")


def test_huge_password_is_refused_fast(hasher):
    # 10 MB of a character NFKC expands 18-fold: refused before normalising.
    with pytest.raises(PasswordTooLongError):
        hasher.hash("\ufdfa" * 10_000_000)


def test_unencodable_password(hasher):
    with pytest.raises(ConfigError, match="not valid Unicode"):
        hasher.hash("a\ud800b")


# -- rehash ---------------------------------------------------------------------------------


def test_needs_rehash_when_parameters_change(hasher):
    old = PasswordHasher(CHEAP).hash("pw")
    assert hasher.needs_rehash(old)
    check = hasher.verify(old, "pw")
    assert check == PasswordCheck("argon2id", needs_rehash=True)
    new = hasher.verify_and_update(old, "pw")
    assert new is not None
    assert not hasher.needs_rehash(new)
    assert hasher.verify_and_update(new, "pw") is None


def test_verify_and_update_raises_on_mismatch(hasher):
    with pytest.raises(PasswordMismatchError):
        hasher.verify_and_update(hasher.hash("a"), "b")


@pytest.mark.parametrize(("kind", "name"), [(Type.I, "argon2i"), (Type.D, "argon2d")])
def test_older_argon2_variants_verify_and_upgrade(hasher, kind, name):
    stored = hash_secret(b"pw", b"0123456789abcdef", 1, 8, 1, 32, kind).decode()
    assert hasher.verify(stored, "pw") == PasswordCheck(name, needs_rehash=True)
    with pytest.raises(PasswordMismatchError):
        hasher.verify(stored, "px")


def test_argon2_version_16_hash_without_v_member(hasher):
    stored = hash_secret(b"pw", b"0123456789abcdef", 1, 8, 1, 32, Type.I, version=16).decode()
    assert hasher.verify(stored.replace("v=16$", ""), "pw").needs_rehash


def test_django_argon2_form(hasher):
    stored = "argon2" + argon2.PasswordHasher.from_parameters(profiles.TEST).hash("pw")
    assert hasher.verify(stored, "pw") == PasswordCheck("argon2id", needs_rehash=True)
    assert hasher.needs_rehash(stored)


# -- legacy schemes ---------------------------------------------------------------------------


def test_django_pbkdf2_sha256(hasher):
    stored = django_pbkdf2(b"correct horse")
    assert hasher.verify(stored, "correct horse") == PasswordCheck("pbkdf2_sha256", True)
    assert hasher.needs_rehash(stored)
    with pytest.raises(PasswordMismatchError):
        hasher.verify(stored, "correct horsE")
    new = hasher.verify_and_update(stored, "correct horse")
    assert new is not None
    assert new.startswith("$argon2id$")


def test_django_pbkdf2_with_non_ascii_password_hashed_as_typed(hasher):
    typed = "e\u0301t\u00e9"  # NFKC changes it; Django hashed it as typed
    assert hasher.verify(django_pbkdf2(typed.encode()), typed).needs_rehash


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        ("pbkdf2_sha256$1000$salt", "must be 'pbkdf2_sha256"),
        ("pbkdf2_sha256$x$salt$AAAA", "must be 'pbkdf2_sha256"),
        ("pbkdf2_sha256$1000$$AAAA", "must be 'pbkdf2_sha256"),
        ("pbkdf2_sha256$0$salt$" + "A" * 44, "iterations must be"),
        ("pbkdf2_sha256$99999999$salt$" + "A" * 44, "iterations must be"),
        ("pbkdf2_sha256$1000$salt$not*base64", "not valid base64"),
        ("pbkdf2_sha256$1000$salt$AAAA", "must be 32 bytes"),
    ],
)
def test_django_pbkdf2_malformed(hasher, stored, message):
    with pytest.raises(FormatError, match=message):
        hasher.verify(stored, "pw")


@pytest.mark.parametrize("prefix", [b"2b", b"2a"])
def test_bcrypt(hasher, prefix):
    bcrypt = pytest.importorskip("bcrypt")
    stored = bcrypt.hashpw(b"tr0ub4dor&3", bcrypt.gensalt(4, prefix=prefix)).decode()
    assert hasher.verify(stored, "tr0ub4dor&3") == PasswordCheck("bcrypt", True)
    with pytest.raises(PasswordMismatchError):
        hasher.verify(stored, "tr0ub4dor&4")
    assert hasher.needs_rehash(stored)


def test_bcrypt_2y_is_the_same_algorithm(hasher):
    bcrypt = pytest.importorskip("bcrypt")
    stored = bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode().replace("$2b$", "$2y$", 1)
    assert hasher.verify(stored, "pw").scheme == "bcrypt"


def test_bcrypt_long_password_verifies_like_the_original_72_byte_truncation(hasher):
    bcrypt = pytest.importorskip("bcrypt")
    long_password = "p" * 100
    stored = bcrypt.hashpw(long_password[:72].encode(), bcrypt.gensalt(4)).decode()
    assert hasher.verify(stored, long_password).scheme == "bcrypt"


def test_bcrypt_cost_ceiling(hasher):
    pytest.importorskip("bcrypt")
    hostile = f"$2b${BCRYPT_MAX_COST + 1}$" + "a" * 53
    with pytest.raises(FormatError, match=f"bcrypt cost {BCRYPT_MAX_COST + 1}"):
        hasher.verify(hostile, "pw")


def test_bcrypt_malformed_salt(hasher):
    pytest.importorskip("bcrypt")
    with pytest.raises(FormatError, match="a bcrypt hash must be"):
        hasher.verify("$2b$04$" + "!" * 53, "pw")
    with pytest.raises(FormatError, match="a bcrypt hash must be"):
        hasher.needs_rehash("$2b$04$short")


def _bump_char(text: str, index: int, alphabet: str) -> str:
    """``text`` with the character at ``index`` replaced by the next one of ``alphabet``."""
    char = alphabet[(alphabet.index(text[index]) + 1) % len(alphabet)]
    return text[:index] + char + text[index + 1 :]


_BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


@pytest.mark.parametrize("index", [28, 59], ids=["salt", "hash"])
def test_a_bcrypt_hash_with_unused_bits_set_is_malformed_not_importable(hasher, index):
    # The last character of the salt (and of the hash) carries bits bcrypt never set; one
    # with them set was taken by `users import`, and its account could never log in.
    bcrypt = pytest.importorskip("bcrypt")
    stored = bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode()
    altered = _bump_char(stored, index, _BCRYPT_ALPHABET)
    with pytest.raises(FormatError, match="bcrypt"):
        hasher.needs_rehash(altered)
    with pytest.raises(FormatError, match="bcrypt"):
        hasher.verify(altered, "pw")


_B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


@pytest.mark.parametrize(
    "alter",
    [
        pytest.param(lambda s: _bump_char(s, len(s) - 1, _B64_ALPHABET), id="hash-unused-bits"),
        pytest.param(
            lambda s: _bump_char(s, s.rindex("$") - 1, _B64_ALPHABET), id="salt-unused-bits"
        ),
        pytest.param(lambda s: s.replace(",t=1,", ",t=1 ,"), id="space-in-parameters"),
        pytest.param(lambda s: s.replace("$m=8,", "$m=08,"), id="leading-zero"),
    ],
)
def test_an_argon2_hash_argon2_cannot_decode_is_malformed_not_importable(hasher, alter):
    # argon2-cffi's extract_parameters reads more leniently than the C code that verifies:
    # such a hash was taken by `users import`, and its account could never log in.
    stored = hasher.hash("pw")
    assert stored.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    altered = alter(stored)
    assert altered != stored
    for text in (altered, "argon2" + altered):
        with pytest.raises(FormatError, match="argon2"):
            hasher.needs_rehash(text)
        with pytest.raises(FormatError, match="argon2"):
            hasher.verify(text, "pw")


# -- malformed and unsupported hashes ---------------------------------------------------------


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "hello",
        "$argon2id$v=19$m=8,t=1,p=1$garbage",
        "$argon2id$v=19$m=x,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
        "é" * 10,
        "x" * 600,
    ],
)
def test_malformed_hashes(hasher, stored):
    with pytest.raises(FormatError):
        hasher.verify(stored, "pw")


def test_non_ascii_bytes_hash(hasher):
    with pytest.raises(FormatError, match="ASCII"):
        hasher.verify(b"\xff\xfe", "pw")


def test_argon2_cost_ceiling(hasher):
    hostile = "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + "A" * 43
    with pytest.raises(FormatError, match="above the accepted maximum"):
        hasher.verify(hostile, "pw")
    with pytest.raises(FormatError):
        hasher.needs_rehash(hostile)


@pytest.mark.parametrize(
    "params",
    ["v=19$m=65536,t=0,p=1", "v=19$m=1,t=1,p=1", "v=19$m=64,t=1,p=9", "v=99$m=65536,t=1,p=1"],
)
def test_an_argon2_hash_below_what_argon2_allows_is_malformed_not_importable(hasher, params):
    # Such a hash was taken by `users import`, and its account could never log in.
    stored = f"$argon2id${params}$c2FsdHNhbHRzYWx0c2FsdA$" + "A" * 43
    with pytest.raises(FormatError, match="which Argon2 does not allow"):
        hasher.needs_rehash(stored)
    with pytest.raises(FormatError):
        hasher.verify(stored, "pw")


@pytest.mark.parametrize("password", ["\uff57rong password", "wrong password"])
def test_an_unknown_name_costs_as_many_argon2_checks_as_a_known_ones_wrong_password(
    hasher, monkeypatch, password
):
    # A password whose NFKC form differs (U+FF57) is checked in both forms against a known
    # account's hash: the dummy check of an unknown name must make as many, or the time
    # of the answer tells which names have accounts. Counted, not timed.
    from sealbox.passwords import hasher as module

    calls: list[bytes] = []
    real = module.verify_secret

    def counting(encoded, candidate, kind):
        calls.append(candidate)
        return real(encoded, candidate, kind)

    monkeypatch.setattr(module, "verify_secret", counting)
    stored = hasher.hash("correct horse battery")
    with pytest.raises(PasswordMismatchError):
        hasher.verify(stored, password)
    known = len(calls)
    calls.clear()
    with pytest.raises(PasswordMismatchError):
        hasher.verify_dummy(password)
    assert len(calls) == known == (2 if password.startswith("\uff57") else 1)


def test_an_argon2_1_0_hash_without_a_version_still_verifies(hasher):
    from argon2.low_level import Type, hash_secret

    stored = hash_secret(b"pw", b"saltsaltsalt", 1, 64, 1, 32, Type.ID, version=0x10).decode()
    unversioned = stored.replace("$v=16", "")
    assert hasher.verify(unversioned, "pw").needs_rehash


@pytest.mark.parametrize(
    ("stored", "scheme"),
    [
        ("$6$rounds=5000$salt$hash", "'$6$'"),
        ("$1$salt$hash", "'$1$'"),
        ("sha1$salt$hash", "'sha1$'"),
        ("scrypt$16384$8$1$salt$hash", "'scrypt$'"),
    ],
)
def test_unsupported_schemes_are_named(hasher, stored, scheme):
    with pytest.raises(UnsupportedAlgorithmError, match=re.escape(scheme)) as exc:
        hasher.verify(stored, "pw")
    assert "pbkdf2_sha256" in (exc.value.hint or "")
    with pytest.raises(UnsupportedAlgorithmError):
        hasher.needs_rehash(stored)


def test_needs_rehash_of_garbage(hasher):
    with pytest.raises(FormatError):
        hasher.needs_rehash("garbage")


# -- dummy verification, threads, calibration ------------------------------------------------


def test_verify_dummy_always_mismatches(hasher):
    for password in ("", "pw", b"bytes"):
        with pytest.raises(PasswordMismatchError):
            hasher.verify_dummy(password)


def test_hashing_from_several_threads(hasher):
    results: list[str] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        stored = hasher.hash(f"pw{i}")
        with lock:
            results.append(stored)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 8
    matched = set()
    for stored in results:
        matched |= {i for i in range(8) if _matches(hasher, stored, f"pw{i}")}
    assert matched == set(range(8))


def _matches(hasher, stored, password):
    try:
        hasher.verify(stored, password)
    except PasswordMismatchError:
        return False
    return True


def test_calibrate_returns_usable_argon2id_parameters():
    params = calibrate(2, memory_cost=256, min_memory_cost=64, parallelism=1, max_time_cost=4)
    assert params.type is Type.ID
    assert params.parallelism == 1
    assert 64 <= params.memory_cost <= 256
    assert 1 <= params.time_cost <= 4
    hasher = PasswordHasher(params)
    assert hasher.verify(hasher.hash("pw"), "pw").needs_rehash is False


def test_calibrate_never_goes_below_the_memory_floor():
    # A target no machine can meet: one pass at the floor.
    params = calibrate(0.001, memory_cost=1024, min_memory_cost=512, parallelism=1)
    assert params.memory_cost == 512
    assert params.time_cost == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"target_ms": 0},
        {"target_ms": -5},
        {"target_ms": 120_000},
        {"target_ms": 10, "parallelism": 0},
        {"target_ms": 10, "max_time_cost": 0},
        {"target_ms": 10, "memory_cost": 1024},  # below the OWASP floor
    ],
)
def test_calibrate_rejects_bad_arguments(kwargs):
    with pytest.raises(ConfigError):
        calibrate(**kwargs)


@pytest.mark.parametrize("stored", ["Summer2024$x", "$Summer2024$x", "hunter2$$"])
def test_a_password_given_for_its_hash_is_never_quoted_in_the_refusal(hasher, stored):
    # An export that put passwords where their hashes belong: the refusal quoted the
    # text up to its first '$', the password's start.
    with pytest.raises(UnsupportedAlgorithmError) as exc:
        hasher.verify(stored, "pw")
    assert "Summer" not in str(exc.value)
    assert "hunter" not in str(exc.value)
    assert "scheme is not one sealbox knows" in str(exc.value)
