"""A stored hash refused by scheme or by cost says which scheme and which cost in its
facts, so that an import report or an audit record can say it without parsing the
message; never the salt or the hash itself."""

from __future__ import annotations

import pytest

from sealbox.exceptions import UnsupportedAlgorithmError
from sealbox.passwords import HashTooCostlyError, PasswordHasher

SALT_AND_HASH = "c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhcw"


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    return PasswordHasher("test")


@pytest.mark.parametrize("check", ["verify", "needs_rehash"])
@pytest.mark.parametrize(
    ("stored", "scheme"),
    [("$6$rounds=5000$SALTSALT$HASHHASHHASH", "$6$"), ("$y$j9T$SALTSALT$HASHHASHHASH", "$y$")],
)
def test_a_scheme_refused_by_name_is_that_schemes_fact(hasher, check, stored, scheme):
    with pytest.raises(UnsupportedAlgorithmError) as info:
        hasher.verify(stored, "pw") if check == "verify" else hasher.needs_rehash(stored)
    assert info.value.code == "unsupported_algorithm"
    assert info.value.facts == {"scheme": scheme}


@pytest.mark.parametrize("check", ["verify", "needs_rehash"])
@pytest.mark.parametrize(
    ("stored", "facts"),
    [
        (
            f"$argon2id$v=19$m=4194304,t=1,p=1${SALT_AND_HASH}",
            {"scheme": "argon2id", "time_cost": "1", "memory_cost": "4194304", "parallelism": "1"},
        ),
        (
            f"$argon2i$v=19$m=65536,t=40,p=1${SALT_AND_HASH}",
            {"scheme": "argon2i", "time_cost": "40", "memory_cost": "65536", "parallelism": "1"},
        ),
        (
            "$2b$31$" + "a" * 53,
            {"scheme": "bcrypt", "cost": "31"},
        ),
        (
            "pbkdf2_sha256$999999999$SALTSALT$" + "A" * 43 + "=",
            {"scheme": "pbkdf2_sha256", "iterations": "999999999"},
        ),
    ],
)
def test_a_hash_above_the_cost_ceiling_names_its_scheme_and_costs(hasher, check, stored, facts):
    with pytest.raises(HashTooCostlyError) as info:
        hasher.verify(stored, "pw") if check == "verify" else hasher.needs_rehash(stored)
    assert info.value.code == "hash_too_costly"
    assert info.value.facts == facts
    salt_and_hash = [part for part in stored.split("$") if len(part) > 16]
    assert salt_and_hash
    for part in salt_and_hash:
        assert part not in repr(info.value.facts)
        assert part not in str(info.value)
