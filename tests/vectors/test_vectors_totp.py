"""RFC 6238 Appendix B and RFC 4226 Appendix D: the published TOTP and HOTP test values."""

from __future__ import annotations

import pytest

from sealbox.accounts.totp import hotp, time_step, totp

# RFC 6238 Appendix B: the seed of each hash is "1234567890" repeated to its length.
SEEDS = {
    "sha1": b"12345678901234567890",
    "sha256": b"12345678901234567890123456789012",
    "sha512": b"1234567890" * 6 + b"1234",
}
APPENDIX_B = [
    (59, "0000000000000001", "94287082", "46119246", "90693936"),
    (1111111109, "00000000023523EC", "07081804", "68084774", "25091201"),
    (1111111111, "00000000023523ED", "14050471", "67062674", "99943326"),
    (1234567890, "000000000273EF07", "89005924", "91819424", "93441116"),
    (2000000000, "0000000003F940AA", "69279037", "90698825", "38618901"),
    (20000000000, "0000000027BC86AA", "65353130", "77737706", "47863826"),
]
# RFC 4226 Appendix D: HOTP values of counters 0 to 9 under the 20-byte seed.
APPENDIX_D = [
    "755224", "287082", "359152", "969429", "338314",
    "254676", "287922", "162583", "399871", "520489",
]  # fmt: skip


@pytest.mark.parametrize(("now", "step", "sha1", "sha256", "sha512"), APPENDIX_B)
def test_rfc6238_appendix_b_values(now: int, step: str, sha1: str, sha256: str, sha512: str):
    assert time_step(now) == int(step, 16)
    assert totp(SEEDS["sha1"], now, digits=8) == sha1
    assert totp(SEEDS["sha256"], now, digits=8, algorithm="sha256") == sha256
    assert totp(SEEDS["sha512"], now, digits=8, algorithm="sha512") == sha512


@pytest.mark.parametrize(("counter", "value"), list(enumerate(APPENDIX_D)))
def test_rfc4226_appendix_d_values(counter: int, value: str) -> None:
    assert hotp(SEEDS["sha1"], counter) == value


def test_six_digit_codes_are_the_last_six_of_the_eight_digit_ones() -> None:
    # RFC 4226 §5.3: the same truncated value, mod 10^6 instead of 10^8.
    for now, _step, sha1, _, _ in APPENDIX_B:
        assert totp(SEEDS["sha1"], now) == sha1[-6:]
