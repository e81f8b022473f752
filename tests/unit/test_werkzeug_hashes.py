"""Werkzeug's hashes, as Flask apps store them (``generate_password_hash``): PBKDF2
(``pbkdf2:<digest>:<iterations>$salt$hex``) and scrypt (``scrypt:n:r:p$salt$hex``) verify,
ask for a rehash, stay within the costs a login may spend, and are refused as malformed
without being quoted."""

from __future__ import annotations

import pytest

from sealbox.exceptions import FormatError, PasswordMismatchError, UnsupportedAlgorithmError
from sealbox.passwords import HashTooCostlyError, PasswordHasher, hash_scheme
from tests.unit.test_wrong_password_on_a_foreign_hash_costs_an_unknown_names_work import (
    PROFILE_KIB,
    _peak_kib_of_a_wrong_password,
)

# Made with Werkzeug 3.1.9 in a throwaway virtualenv:
#   python3 -m venv /tmp/wz && /tmp/wz/bin/pip install werkzeug
#   from werkzeug.security import generate_password_hash as g
#   g("flask-pw-1", "pbkdf2:sha256:1000"), g("flask-pw-2", "pbkdf2:sha512:1000"),
#   g("flask-pw-3", "pbkdf2:sha1:1000"), g("flask-pw-4", "scrypt:1024:8:1"),
#   g("flask-pw-5") (the default, scrypt:32768:8:1), g("pässwörd-ﬁ", "pbkdf2:sha256:1000"),
#   g("pässwörd-ﬁ", "scrypt:1024:8:2")
PBKDF2_SHA256 = (
    "pbkdf2:sha256:1000$5sKi38rvhOgv7pPO$"
    "da53325fbc22c695aee71416cc291f6250cc1f8fcfea6db74df7d4512bf57e8c"
)
PBKDF2_SHA512 = (
    "pbkdf2:sha512:1000$GbIaYbdfeI0g7Zgc$"
    "302ce949843f44faea8c4e92896eaa34c134232f904845ff64c059f92d81b3b5"
    "ab264a0df22ca96da558ba6556596037ac3ce991aecc4ce59aedcf0776a0c92d"
)
PBKDF2_SHA1 = "pbkdf2:sha1:1000$hnVNPQHkF6QZWzgc$a2177f39acac80de6e5cdd4d91d8d9b72fc74932"
SCRYPT_SMALL = (
    "scrypt:1024:8:1$16fOHqiqhaewmrKH$"
    "95b9e8f1ec429024cb77a17e6bbbe79c445bf2a9ff1f7f70b603d1a4ca1548c1"
    "c87d780a553a6eca22a4eb36c1055bf18503c69e899edc17ee5c3ce0ca4fa0b8"
)
SCRYPT_DEFAULT = (
    "scrypt:32768:8:1$TnctdpHSV6K9uuq5$"
    "3970bb6b73ba2b383a6b516cb5943215b8bd9103a7758b99d1616e4fa983415d"
    "20f4714870b6c171b6f3eef3012c8e708942b3a52ad0c2f37aff47387287ec63"
)
UNICODE_PBKDF2 = (
    "pbkdf2:sha256:1000$QfHDy4ImoHnQiN7E$"
    "5d626d0b8c849df4de3d03496ff93adb44a2281e5701cf9e37d735ac6d55272e"
)
UNICODE_SCRYPT = (
    "scrypt:1024:8:2$BGUEKIZInEcDqxtd$"
    "2f886715e1aabb5f7f5f95f3badd7b8f3452d6ee69e32566b50975eb9217dfe8"
    "d1943525b5f85691dfd027c76dc016194eac40adda170dbab4cfb3a8c2745642"
)
# Werkzeug hashed the password as typed (no NFKC: "ﬁ" stays the ligature).
UNICODE_PASSWORD = "pässwörd-ﬁ"

VECTORS = [
    pytest.param(PBKDF2_SHA256, "flask-pw-1", "pbkdf2:sha256", id="pbkdf2-sha256"),
    pytest.param(PBKDF2_SHA512, "flask-pw-2", "pbkdf2:sha512", id="pbkdf2-sha512"),
    pytest.param(PBKDF2_SHA1, "flask-pw-3", "pbkdf2:sha1", id="pbkdf2-sha1"),
    pytest.param(SCRYPT_SMALL, "flask-pw-4", "scrypt", id="scrypt-small"),
    pytest.param(SCRYPT_DEFAULT, "flask-pw-5", "scrypt", id="scrypt-default"),
    pytest.param(UNICODE_PBKDF2, UNICODE_PASSWORD, "pbkdf2:sha256", id="pbkdf2-as-typed"),
    pytest.param(UNICODE_SCRYPT, UNICODE_PASSWORD, "scrypt", id="scrypt-as-typed"),
]


@pytest.mark.parametrize(("stored", "password", "scheme"), VECTORS)
def test_a_werkzeug_hash_verifies_its_password_and_asks_for_a_rehash(
    stored: str, password: str, scheme: str
) -> None:
    hasher = PasswordHasher("test")
    check = hasher.verify(stored, password)
    assert (check.scheme, check.needs_rehash) == (scheme, True)
    assert hasher.needs_rehash(stored)
    assert hash_scheme(stored) == scheme
    new = hasher.verify_and_update(stored, password)
    assert new is not None and new.startswith("$argon2id$")


@pytest.mark.parametrize(("stored", "password", "scheme"), VECTORS)
def test_a_wrong_password_against_a_werkzeug_hash_does_not_match(
    stored: str, password: str, scheme: str
) -> None:
    with pytest.raises(PasswordMismatchError):
        PasswordHasher("test").verify(stored, password + "x")


@pytest.mark.parametrize(
    "stored", [pytest.param(PBKDF2_SHA256, id="pbkdf2"), pytest.param(SCRYPT_SMALL, id="scrypt")]
)
def test_a_wrong_password_against_a_werkzeug_hash_spends_the_profiles_argon2_work(
    stored: str,
) -> None:
    # A thousand PBKDF2 rounds or a 1 MiB scrypt answer in a millisecond: the unknown
    # name's dummy Argon2 check follows, as for the other foreign hashes.
    assert _peak_kib_of_a_wrong_password(stored) > PROFILE_KIB


HEX32 = "ab" * 32
HEX64 = "ab" * 64


@pytest.mark.parametrize(
    ("stored", "facts"),
    [
        pytest.param(
            f"pbkdf2:sha256:10000001$saltsalt${HEX32}",
            {"scheme": "pbkdf2:sha256", "iterations": "10000001"},
            id="pbkdf2-sha256-iterations",
        ),
        pytest.param(
            f"pbkdf2:sha1:10000001$saltsalt${'ab' * 20}",
            {"scheme": "pbkdf2:sha1", "iterations": "10000001"},
            id="pbkdf2-sha1-iterations",
        ),
        pytest.param(
            f"pbkdf2:sha512:5000001$saltsalt${HEX64}",
            {"scheme": "pbkdf2:sha512", "iterations": "5000001"},
            id="pbkdf2-sha512-iterations",
        ),
        pytest.param(
            f"scrypt:1048576:8:1$saltsalt${HEX64}",  # 1 GiB and a bit: above the memory cap
            {"scheme": "scrypt", "n": "1048576", "r": "8", "p": "1"},
            id="scrypt-memory",
        ),
        pytest.param(
            f"scrypt:32768:8:128$saltsalt${HEX64}",  # 32 MiB, 128 times over: above the work
            {"scheme": "scrypt", "n": "32768", "r": "8", "p": "128"},
            id="scrypt-work",
        ),
        pytest.param(
            f"scrypt:2:1:1073741823$saltsalt${HEX64}",  # r*p at scrypt's own limit
            {"scheme": "scrypt", "n": "2", "r": "1", "p": "1073741823"},
            id="scrypt-r-times-p",
        ),
    ],
)
def test_a_werkzeug_hash_above_the_ceiling_is_refused_before_any_work(
    stored: str, facts: dict[str, str]
) -> None:
    hasher = PasswordHasher("test")
    for check in (hasher.needs_rehash, lambda s: hasher.verify(s, "pw")):
        with pytest.raises(HashTooCostlyError) as info:
            check(stored)
        assert info.value.code == "hash_too_costly"
        assert info.value.facts == facts
        assert "above the accepted maximum" in str(info.value)
        assert "saltsalt" not in str(info.value) + str(info.value.hint)


@pytest.mark.parametrize(
    "stored",
    [
        pytest.param(f"pbkdf2:sha256:1000$saltsalt${HEX32[:-1]}", id="odd-hex"),
        pytest.param(f"pbkdf2:sha256:1000$saltsalt${HEX32.upper()}", id="uppercase-hex"),
        pytest.param(f"pbkdf2:sha256:1000$saltsalt${HEX32}ab", id="pbkdf2-key-too-long"),
        pytest.param(f"pbkdf2:sha512:1000$saltsalt${HEX32}", id="pbkdf2-key-too-short"),
        pytest.param(f"scrypt:1024:8:1$saltsalt${HEX32}", id="scrypt-key-too-short"),
        pytest.param(f"pbkdf2:sha256:1000$${HEX32}", id="empty-salt"),
        pytest.param(f"scrypt:1024:8:1$${HEX64}", id="scrypt-empty-salt"),
        pytest.param(f"pbkdf2:sha256:1000$saltsalt${HEX32}$x", id="extra-member"),
        pytest.param(f"pbkdf2:sha256:0$saltsalt${HEX32}", id="no-iterations"),
        pytest.param(f"pbkdf2:sha256:1000:9$saltsalt${HEX32}", id="pbkdf2-extra-number"),
        pytest.param(f"scrypt:1000:8:1$saltsalt${HEX64}", id="scrypt-n-not-a-power-of-two"),
        pytest.param(f"scrypt:1024:0:1$saltsalt${HEX64}", id="scrypt-r-zero"),
        pytest.param(f"scrypt:1024:8$saltsalt${HEX64}", id="scrypt-two-numbers"),
        pytest.param(f"scrypt:$saltsalt${HEX64}", id="scrypt-no-numbers"),
    ],
)
def test_a_malformed_werkzeug_hash_is_refused_without_quoting_it(stored: str) -> None:
    hasher = PasswordHasher("test")
    for check in (hasher.needs_rehash, lambda s: hasher.verify(s, "pw")):
        with pytest.raises(FormatError) as info:
            check(stored)
        assert not isinstance(info.value, HashTooCostlyError)
        said = str(info.value) + str(info.value.hint)
        assert "saltsalt" not in said and "abab" not in said.lower()


def test_a_werkzeug_pbkdf2_hash_without_its_iteration_count_is_refused_not_guessed() -> None:
    # Werkzeug reads "pbkdf2:sha256$…" with its version's default (260 000, 600 000,
    # 1 000 000…): the count that made the hash is unknown.
    stored = f"pbkdf2:sha256$saltsalt${HEX32}"
    with pytest.raises(FormatError) as info:
        PasswordHasher("test").needs_rehash(stored)
    assert "names no iteration count" in str(info.value)
    assert "saltsalt" not in str(info.value) + str(info.value.hint)


def test_a_werkzeug_pbkdf2_hash_of_another_digest_is_refused_naming_it() -> None:
    stored = f"pbkdf2:sha384:1000$saltsalt${'ab' * 48}"
    with pytest.raises(UnsupportedAlgorithmError) as info:
        PasswordHasher("test").verify(stored, "pw")
    assert info.value.facts == {"scheme": "pbkdf2:sha384"}
    assert "'pbkdf2:sha384' (Werkzeug)" in str(info.value)
    assert "saltsalt" not in str(info.value)
    assert hash_scheme(stored) == "pbkdf2:sha384"


def test_a_werkzeug_pbkdf2_digest_of_unknown_name_is_refused_without_naming_it() -> None:
    # The text where the digest belongs could be anything (a password, in a bad export).
    stored = f"pbkdf2:Summer2024:1000$saltsalt${HEX32}"
    with pytest.raises(UnsupportedAlgorithmError) as info:
        PasswordHasher("test").needs_rehash(stored)
    assert info.value.facts == {"scheme": "pbkdf2"}
    assert "Summer2024" not in str(info.value) + str(info.value.hint)
    assert hash_scheme(stored) == "unknown"
