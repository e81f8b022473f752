from __future__ import annotations

import pytest

from sealbox.exceptions import ConfigError, FormatError
from sealbox.hazmat import kdf
from sealbox.secret import Secret


def test_default_is_rfc_9106_second_recommended() -> None:
    p = kdf.ARGON2ID_DEFAULT
    assert (p.time_cost, p.memory_cost, p.parallelism) == (3, 65536, 4)


def test_argon2id_is_deterministic_and_salted() -> None:
    salt = b"s" * 16
    a = kdf.argon2id("pw", salt, kdf.ARGON2ID_TEST)
    assert a == kdf.argon2id(b"pw", salt, kdf.ARGON2ID_TEST)
    assert a == kdf.argon2id(Secret("pw"), salt, kdf.ARGON2ID_TEST)
    assert a != kdf.argon2id("pw", b"t" * 16, kdf.ARGON2ID_TEST)
    assert len(kdf.argon2id("pw", salt, kdf.ARGON2ID_TEST, length=64)) == 64


def test_passphrases_are_nfc_normalised() -> None:
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    salt = b"s" * 16
    assert kdf.argon2id(composed, salt, kdf.ARGON2ID_TEST) == kdf.argon2id(
        decomposed, salt, kdf.ARGON2ID_TEST
    )


def test_empty_passphrase_and_short_salt_refused() -> None:
    with pytest.raises(ConfigError, match="empty"):
        kdf.argon2id("", b"s" * 16, kdf.ARGON2ID_TEST)
    with pytest.raises(ValueError, match="salt"):
        kdf.argon2id("pw", b"s", kdf.ARGON2ID_TEST)
    with pytest.raises(TypeError):
        kdf.passphrase_bytes(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("t", "m", "p"), [(0, 8, 1), (1, 7, 1), (1, 8, 0), (1, 16, 4), (True, 8, 1)]
)
def test_bad_params(t: int, m: int, p: int) -> None:
    with pytest.raises(ConfigError):
        kdf.Argon2idParams(t, m, p)


def test_from_dict_round_trip_and_ceiling() -> None:
    p = kdf.ARGON2ID_DEFAULT
    assert kdf.Argon2idParams.from_dict(p.to_dict()) == p
    huge = {**p.to_dict(), "memory_cost": 64 * 1024 * 1024}
    with pytest.raises(FormatError, match="exceed the accepted maximum"):
        kdf.Argon2idParams.from_dict(huge)
    for bad in (None, [], {"name": "scrypt"}, {"name": "argon2id", "time_cost": "x"}):
        with pytest.raises(FormatError):
            kdf.Argon2idParams.from_dict(bad)


def test_scrypt() -> None:
    params = kdf.ScryptParams(log_n=10)
    a = kdf.scrypt(b"pw", b"salt" * 4, params)
    assert len(a) == 32 and a == kdf.scrypt(b"pw", b"salt" * 4, params)
    with pytest.raises(ConfigError):
        kdf.ScryptParams(log_n=0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"time_cost": 1.5}, "time_cost must be an integer, not float"),
        ({"memory_cost": "65536"}, "memory_cost must be an integer, not str"),
        ({"parallelism": True}, "parallelism must be an integer, not bool"),
        ({"time_cost": 0}, "time_cost must be a positive integer"),
        ({"memory_cost": None}, "memory_cost must be an integer, not NoneType"),
    ],
)
def test_a_file_s_argon2id_costs_are_integers_or_a_format_error_naming_the_field(
    change: dict[str, object], message: str
) -> None:
    stored = {**kdf.ARGON2ID_TEST.to_dict(), **change}
    with pytest.raises(FormatError, match=f"invalid argon2id parameters: .*{message}"):
        kdf.Argon2idParams.from_dict(stored)
    missing = kdf.ARGON2ID_TEST.to_dict()
    del missing["parallelism"]
    with pytest.raises(FormatError, match="parallelism is missing"):
        kdf.Argon2idParams.from_dict(missing)
