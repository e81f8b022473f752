"""What a stored or imported hash may cost: every login attempt against its account, a wrong
password included, pays it, so a hash from elsewhere is held to about the work of sealbox's
strongest profile (one pass over 2 GiB) in combination, not only parameter by parameter.

Every hash here is refused (or accepted) from its text alone: none is computed."""

from __future__ import annotations

import argon2
import pytest
from argon2.low_level import Type

from sealbox.exceptions import FormatError
from sealbox.passwords import (
    ARGON2_MAX_MEMORY,
    ARGON2_MAX_WORK,
    BCRYPT_MAX_COST,
    PBKDF2_MAX_ITERATIONS,
    PBKDF2_SHA512_MAX_ITERATIONS,
    HashTooCostlyError,
    PasswordHasher,
    profiles,
)

SALT_AND_HASH = "c2FsdHNhbHRzYWx0c2FsdA$" + "A" * 43
GIB = 1024 * 1024  # in KiB


def _argon2(m: int, t: int, p: int) -> str:
    return f"$argon2id$v=19$m={m},t={t},p={p}${SALT_AND_HASH}"


@pytest.fixture
def hasher() -> PasswordHasher:
    return PasswordHasher("test")


def test_the_ceiling_is_the_strongest_profiles_memory_and_work() -> None:
    high = profiles.RFC_9106_HIGH_MEMORY
    assert ARGON2_MAX_MEMORY == high.memory_cost == 2 * GIB
    assert ARGON2_MAX_WORK == high.memory_cost * high.time_cost == 2 * GIB


@pytest.mark.parametrize(
    "stored",
    [
        pytest.param(_argon2(2 * GIB, 16, 16), id="2GiB-t16-p16"),
        pytest.param(_argon2(1 * GIB, 3, 4), id="1GiB-t3"),
        pytest.param(_argon2(256 * 1024, 9, 4), id="256MiB-t9"),
        pytest.param("argon2" + _argon2(2 * GIB, 2, 4), id="django-form-2GiB-t2"),
    ],
)
def test_an_argon2_hash_each_of_whose_costs_is_allowed_but_not_together_is_refused(
    hasher, stored
) -> None:
    # Each parameter was within t <= 16, m <= 2 GiB, p <= 16, and the hash was taken:
    # m=2 GiB, t=16 made every attempt against the account 32 GiB-passes of work.
    with pytest.raises(HashTooCostlyError) as refused:
        hasher.needs_rehash(stored)
    assert refused.value.code == "hash_too_costly"
    assert "above the accepted maximum" in str(refused.value)
    assert "m*t <= 2097152KiB" in str(refused.value)
    assert isinstance(refused.value, FormatError)  # what callers caught before
    # Refused before any work (the needs_rehash above fails first without the ceiling).
    with pytest.raises(HashTooCostlyError):
        hasher.verify(stored, "pw")


@pytest.mark.parametrize(
    "stored",
    [
        pytest.param(_argon2(2 * GIB, 1, 4), id="rfc9106-high-memory"),
        pytest.param(_argon2(256 * 1024, 8, 4), id="256MiB-t8-at-the-work-ceiling"),
        pytest.param(_argon2(102400, 2, 8), id="django-default"),
        pytest.param(_argon2(64 * 1024, 16, 4), id="calibrate-at-most"),
    ],
)
def test_argon2_hashes_within_the_strongest_profiles_work_are_accepted(hasher, stored) -> None:
    assert hasher.needs_rehash(stored) is True


def test_a_hasher_verifies_hashes_of_its_own_parameters_above_the_ceiling() -> None:
    # A deployment that chose more (calibrate with 2 GiB) still reads its own hashes.
    own = argon2.Parameters(
        type=Type.ID,
        version=19,
        salt_len=16,
        hash_len=32,
        time_cost=3,
        memory_cost=2 * GIB,
        parallelism=4,
    )
    assert PasswordHasher(own).needs_rehash(_argon2(2 * GIB, 3, 4)) is False
    with pytest.raises(HashTooCostlyError):
        PasswordHasher("test").needs_rehash(_argon2(2 * GIB, 3, 4))


def test_bcrypt_above_cost_15_is_refused_as_too_costly(hasher) -> None:
    # Cost 16 took twice the strongest profile's time on the test machine.
    assert BCRYPT_MAX_COST == 15
    stored = "$2b$16$" + "a" * 21 + "e" + "a" * 31
    with pytest.raises(HashTooCostlyError, match="bcrypt cost 16 is above the accepted maximum"):
        hasher.needs_rehash(stored)
    with pytest.raises(HashTooCostlyError):
        hasher.needs_rehash("bcrypt_sha256$" + stored)
    assert hasher.needs_rehash(stored.replace("$16$", "$15$")) is True


def test_pbkdf2_sha512_is_held_to_half_the_iterations_of_sha256() -> None:
    hasher = PasswordHasher("test")
    assert PBKDF2_SHA512_MAX_ITERATIONS * 2 == PBKDF2_MAX_ITERATIONS
    key = "A" * 86  # 64 bytes in passlib's adapted base64
    over = f"$pbkdf2-sha512${PBKDF2_SHA512_MAX_ITERATIONS + 1}$c2FsdA${key}"
    with pytest.raises(HashTooCostlyError, match="above the accepted maximum"):
        hasher.needs_rehash(over)
    at = over.replace(str(PBKDF2_SHA512_MAX_ITERATIONS + 1), str(PBKDF2_SHA512_MAX_ITERATIONS))
    assert hasher.needs_rehash(at) is True
    django = f"pbkdf2_sha256${PBKDF2_MAX_ITERATIONS + 1}$salt$" + "A" * 43 + "="
    with pytest.raises(HashTooCostlyError):
        hasher.needs_rehash(django)
