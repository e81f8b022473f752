"""Passphrase to key: Argon2id (RFC 9106) and scrypt (RFC 7914).

Parameters are values (:class:`Argon2idParams`, :class:`ScryptParams`) that are
written next to the data they protect, so they can be raised later without
breaking old files. Reading parameters from a file goes through ``from_dict`` /
``check_ceiling``, which refuse values beyond a ceiling: a hostile file cannot make
sealbox allocate gigabytes or spin for minutes.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from sealbox.exceptions import ConfigError, FormatError
from sealbox.secret import Secret

__all__ = [
    "ARGON2ID_CEILING",
    "ARGON2ID_DEFAULT",
    "ARGON2ID_TEST",
    "Argon2idParams",
    "ScryptParams",
    "argon2id",
    "passphrase_bytes",
    "resealing_params",
    "scrypt",
    "text_bytes",
]

SALT_SIZE: Final = 16


@dataclass(frozen=True, slots=True)
class Argon2idParams:
    """Argon2id cost parameters.

    Attributes:
        time_cost: passes over memory (t).
        memory_cost: memory in KiB (m).
        parallelism: lanes (p).
    """

    time_cost: int
    memory_cost: int
    parallelism: int

    name: ClassVar[str] = "argon2id"

    def __post_init__(self) -> None:
        for field in ("time_cost", "memory_cost", "parallelism"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"argon2id {field} must be a positive integer")
        if self.memory_cost < 8 * self.parallelism:
            raise ConfigError("argon2id memory_cost must be at least 8 KiB per lane")

    def to_dict(self) -> dict[str, Any]:
        """Return the parameters as stored in a file."""
        return {
            "name": self.name,
            "time_cost": self.time_cost,
            "memory_cost": self.memory_cost,
            "parallelism": self.parallelism,
        }

    @classmethod
    def from_dict(cls, data: object, *, ceiling: Argon2idParams | None = None) -> Argon2idParams:
        """Read parameters from a file, refusing values above ``ceiling``.

        Raises:
            FormatError: a field is missing, of the wrong type, or above the ceiling.
        """
        if not isinstance(data, dict) or data.get("name") != cls.name:
            raise FormatError("kdf must be an object with name 'argon2id'")
        costs = []
        for field in ("time_cost", "memory_cost", "parallelism"):
            if field not in data:
                raise FormatError(f"invalid argon2id parameters: {field} is missing")
            value = data[field]
            # Integers only: 1.5, "3" or true are not costs a writer of this format makes.
            if not isinstance(value, int) or isinstance(value, bool):
                raise FormatError(
                    f"invalid argon2id parameters: {field} must be an integer, "
                    f"not {type(value).__name__}"
                )
            costs.append(value)
        try:
            params = cls(*costs)
        except ConfigError as exc:
            raise FormatError(f"invalid argon2id parameters: {exc}") from None
        params.check_ceiling(ceiling or ARGON2ID_CEILING)
        return params

    def check_ceiling(self, ceiling: Argon2idParams) -> None:
        """Raise :class:`FormatError` if any cost is above ``ceiling``'s."""
        if (
            self.time_cost > ceiling.time_cost
            or self.memory_cost > ceiling.memory_cost
            or self.parallelism > ceiling.parallelism
        ):
            raise FormatError(
                f"argon2id parameters t={self.time_cost} m={self.memory_cost}KiB "
                f"p={self.parallelism} exceed the accepted maximum t={ceiling.time_cost} "
                f"m={ceiling.memory_cost}KiB p={ceiling.parallelism}"
            )


# SECOND RECOMMENDED option of RFC 9106, section 4 (t=3, 64 MiB, p=4).
ARGON2ID_DEFAULT: Final = Argon2idParams(time_cost=3, memory_cost=64 * 1024, parallelism=4)
# Cheap parameters for test suites only. Never for real data.
ARGON2ID_TEST: Final = Argon2idParams(time_cost=1, memory_cost=8, parallelism=1)
# The most a file may ask for when read: 16 passes, 2 GiB, 16 lanes.
ARGON2ID_CEILING: Final = Argon2idParams(time_cost=16, memory_cost=2 * 1024 * 1024, parallelism=16)


def resealing_params(found: Argon2idParams | None) -> Argon2idParams:
    """The Argon2id costs to seal a file with again, given those it was sealed with.

    ``found`` is read from the file's header (``None``: a new file, or one not sealed
    under a passphrase). Its costs are kept (parallelism included) unless they are at
    most the default in both passes and memory: then the default. So a write never
    weakens a file, and brings a weak one up to the default, as a password rehash on
    login does. Costs that are higher in one and lower in the other are the file's
    owner's choice and are kept. Nothing above :data:`ARGON2ID_CEILING` is returned
    (such a file does not open, so this is a guard, not a case).

    .. versionadded:: 0.1.0
    """
    if found is None or (
        found.time_cost <= ARGON2ID_DEFAULT.time_cost
        and found.memory_cost <= ARGON2ID_DEFAULT.memory_cost
    ):
        return ARGON2ID_DEFAULT
    ceiling = ARGON2ID_CEILING
    return Argon2idParams(
        time_cost=min(found.time_cost, ceiling.time_cost),
        memory_cost=min(found.memory_cost, ceiling.memory_cost),
        parallelism=min(found.parallelism, ceiling.parallelism),
    )


def passphrase_bytes(passphrase: str | bytes | Secret[Any]) -> bytes:
    """Encode a passphrase: ``str`` in Unicode NFC, then UTF-8; ``bytes`` as given.

    NFC makes the same passphrase typed on different systems give the same key.
    """
    if isinstance(passphrase, Secret):
        passphrase = passphrase.expose_secret()
    if isinstance(passphrase, str):
        return text_bytes(unicodedata.normalize("NFC", passphrase))
    if isinstance(passphrase, bytes | bytearray):
        return bytes(passphrase)
    raise TypeError("passphrase must be str, bytes or Secret")


def text_bytes(passphrase: str) -> bytes:
    """A ``str`` passphrase in UTF-8, as given (age's rule; :func:`passphrase_bytes`
    normalizes first).

    Raises:
        ConfigError: code ``bad_passphrase``, it holds a lone surrogate (bytes that were
            not UTF-8, from ``os.environ`` or argv); ``UnicodeEncodeError`` would quote it.
    """
    try:
        return passphrase.encode()
    except UnicodeEncodeError:
        raise ConfigError(
            "the passphrase is not valid Unicode text: it holds a lone surrogate",
            code="bad_passphrase",
        ) from None


def argon2id(
    passphrase: str | bytes | Secret[Any],
    salt: bytes,
    params: Argon2idParams = ARGON2ID_DEFAULT,
    length: int = 32,
) -> bytes:
    """Derive ``length`` bytes from a passphrase with Argon2id.

    The work runs in argon2's C code with the GIL released.
    """
    # Imported when first used: argon2's import is costly next to a small command.
    from argon2.low_level import Type, hash_secret_raw

    secret = passphrase_bytes(passphrase)
    if not secret:
        raise ConfigError("the passphrase is empty")
    if len(salt) < 8:
        raise ValueError("the salt must be at least 8 bytes")
    return hash_secret_raw(
        secret,
        salt,
        time_cost=params.time_cost,
        memory_cost=params.memory_cost,
        parallelism=params.parallelism,
        hash_len=length,
        type=Type.ID,
    )


@dataclass(frozen=True, slots=True)
class ScryptParams:
    """scrypt cost parameters: N = 2**log_n, block size r, parallelism p."""

    log_n: int
    r: int = 8
    p: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.log_n <= 40 or self.r < 1 or self.p < 1:
            raise ConfigError("scrypt parameters out of range")


def scrypt(passphrase: bytes, salt: bytes, params: ScryptParams, length: int = 32) -> bytes:
    """Derive ``length`` bytes with scrypt (RFC 7914).

    Raises:
        ConfigError: code ``scrypt_out_of_memory``, when the machine cannot give the
            memory these parameters need (128 * r * N bytes: 1 TiB at 2^30).
    """
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    try:
        return Scrypt(salt=salt, length=length, n=1 << params.log_n, r=params.r, p=params.p).derive(
            passphrase
        )
    except MemoryError:
        mib = (128 * params.r << params.log_n) >> 20
        raise ConfigError(
            f"scrypt with N=2^{params.log_n} needs {mib} MiB of memory, more than this "
            "machine could allocate",
            hint="use a lower work factor (age's default is 18: 256 MiB)",
            code="scrypt_out_of_memory",
            facts={"log_n": str(params.log_n), "memory_mib": str(mib)},
        ) from None
