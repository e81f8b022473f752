"""Named Argon2id cost profiles for password hashing, each named after its source.

================================  ===  =======  ===  ==========================================
name                              t    memory   p    source
================================  ===  =======  ===  ==========================================
``rfc9106-low-memory`` (default)  3    64 MiB   4    RFC 9106 §4, SECOND RECOMMENDED option
``rfc9106-high-memory``           1    2 GiB    4    RFC 9106 §4, FIRST RECOMMENDED option
``owasp-minimum``                 2    19 MiB   1    OWASP Password Storage Cheat Sheet (2023)
``recipe``                        2    64 MiB   4    the original recipe's ``argon2.PasswordHasher``
``test``                          1    8 KiB    1    test suites only: no protection at all
================================  ===  =======  ===  ==========================================

Every profile makes a 32-byte hash with a 16-byte salt, Argon2 version 0x13.
The values are :class:`argon2.Parameters`, so they also work with argon2-cffi's
own ``PasswordHasher.from_parameters``.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import Final

from argon2 import Parameters
from argon2.low_level import ARGON2_VERSION, Type

from sealbox.exceptions import ConfigError
from sealbox.hazmat.kdf import ARGON2ID_DEFAULT, ARGON2ID_TEST, Argon2idParams

__all__ = [
    "DEFAULT_PROFILE",
    "OWASP_MINIMUM",
    "PROFILES",
    "RECIPE",
    "RFC_9106_HIGH_MEMORY",
    "RFC_9106_LOW_MEMORY",
    "TEST",
    "TEST_PROFILE",
    "get_profile",
    "profile_name",
    "profile_warning",
]


def _argon2id(time_cost: int, memory_cost: int, parallelism: int) -> Parameters:
    return Parameters(
        type=Type.ID,
        version=ARGON2_VERSION,
        salt_len=16,
        hash_len=32,
        time_cost=time_cost,
        memory_cost=memory_cost,
        parallelism=parallelism,
    )


def _from_kdf(params: Argon2idParams) -> Parameters:
    return _argon2id(params.time_cost, params.memory_cost, params.parallelism)


# SECOND RECOMMENDED option of RFC 9106, section 4: the KDF default for files, too.
RFC_9106_LOW_MEMORY: Final = _from_kdf(ARGON2ID_DEFAULT)
# FIRST RECOMMENDED option of RFC 9106, section 4: t=1, 2 GiB, p=4.
RFC_9106_HIGH_MEMORY: Final = _argon2id(1, 2 * 1024 * 1024, 4)
# OWASP Password Storage Cheat Sheet, minimum for Argon2id: t=2, 19 MiB, p=1.
OWASP_MINIMUM: Final = _argon2id(2, 19 * 1024, 1)
# The original recipe's parameters: t=2, 64 MiB, p=4.
RECIPE: Final = _argon2id(2, 64 * 1024, 4)
# Cheapest legal parameters, for test suites only. Never for real passwords.
TEST: Final = _from_kdf(ARGON2ID_TEST)

PROFILES: Final[dict[str, Parameters]] = {
    "rfc9106-low-memory": RFC_9106_LOW_MEMORY,
    "rfc9106-high-memory": RFC_9106_HIGH_MEMORY,
    "owasp-minimum": OWASP_MINIMUM,
    "recipe": RECIPE,
    "test": TEST,
}
"""Every named profile, by name."""

DEFAULT_PROFILE: Final = "rfc9106-low-memory"

TEST_PROFILE: Final = "test"
"""The profile whose hashes are fast to make, and so to guess: for test suites only."""


def profile_warning(name: str) -> str | None:
    """What to tell a person who hashes real passwords with profile ``name``: a warning for
    :data:`TEST_PROFILE`, ``None`` for any other.

    .. versionadded:: 0.1.0
    """
    if name != TEST_PROFILE:
        return None
    return (
        f"the {TEST_PROFILE!r} password profile is for tests: its hashes are cheap to guess; "
        "use the default profile for real passwords"
    )


def get_profile(name: str) -> Parameters:
    """Return the parameters of a named profile.

    Raises:
        ConfigError: no profile has that name (the message lists them).
    """
    try:
        return PROFILES[name]
    except KeyError:
        names = ", ".join(PROFILES)
        raise ConfigError(f"unknown password profile {name!r} (known: {names})") from None


def profile_name(params: Parameters) -> str | None:
    """Return the name of the profile with exactly these parameters, if any."""
    for name, candidate in PROFILES.items():
        if candidate == params:
            return name
    return None
