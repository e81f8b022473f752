"""A wrong password against a stored hash the hasher did not make with its own parameters
(an imported bcrypt, Django or passlib hash, an Argon2 hash of a cheaper profile) costs the
unknown name's dummy Argon2 check on top of its own: else a cheap imported hash (a
millisecond) would tell, by the answer's speed, that its account exists.

No clock is read: the work is seen in the memory Argon2 fills. The hasher's profile asks
for 128 MiB, far above what the interpreter holds, so a process's peak memory past it
shows that one Argon2 check of the profile ran.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from sealbox.passwords import PasswordHasher
from tests.conftest import require_module
from tests.unit.test_passwords_django import django_bcrypt, django_pbkdf2
from tests.unit.test_passwords_passlib import passlib_pbkdf2

PROFILE_KIB = 131_072

CHECK = f"""
import resource, sys
import argon2
from argon2.low_level import ARGON2_VERSION, Type
from sealbox.exceptions import PasswordMismatchError
from sealbox.passwords import PasswordHasher

hasher = PasswordHasher(argon2.Parameters(
    type=Type.ID, version=ARGON2_VERSION, salt_len=16, hash_len=32,
    time_cost=1, memory_cost={PROFILE_KIB}, parallelism=1,
))
stored = sys.stdin.read()
try:
    if stored:
        hasher.verify(stored, "not the password")
    else:
        hasher.verify_dummy("not the password")
except PasswordMismatchError:
    pass
else:
    raise SystemExit("a wrong password verified")
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _peak_kib_of_a_wrong_password(stored: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", CHECK],
        input=stored,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return int(done.stdout)


def _bcrypt() -> str:
    require_module("bcrypt")
    import bcrypt

    return bcrypt.hashpw(b"the password", bcrypt.gensalt(4)).decode("ascii")


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(_bcrypt, id="bcrypt"),
        pytest.param(lambda: django_bcrypt("the password"), id="django-bcrypt"),
        pytest.param(lambda: django_pbkdf2("the password"), id="django-pbkdf2"),
        pytest.param(
            lambda: passlib_pbkdf2("the password", "sha256", b"0123456789abcdef", 1000),
            id="passlib-pbkdf2",
        ),
        pytest.param(lambda: PasswordHasher("test").hash("the password"), id="cheap-argon2id"),
    ],
)
def test_a_wrong_password_against_a_foreign_hash_spends_the_profiles_argon2_work(make) -> None:
    assert _peak_kib_of_a_wrong_password(make()) > PROFILE_KIB


def test_the_measure_sees_an_unknown_names_dummy_check() -> None:
    # The yardstick: an unknown name's answer fills the profile's memory.
    assert _peak_kib_of_a_wrong_password("") > PROFILE_KIB
