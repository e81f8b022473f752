"""sealbox's TOTP codes against the Debian ``oathtool`` (OATH Toolkit), an independent peer.

Skipped with the reason without ``oathtool`` (failed under ``CI=true``);
``scripts/install-system-deps.sh`` installs it.
"""

from __future__ import annotations

import secrets
import subprocess
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from sealbox.accounts.totp import (
    decode_secret,
    encode_secret,
    match_step,
    new_secret,
    otpauth_uri,
    totp,
)
from tests.conftest import require_tool

TIMES = [0, 59, 1_111_111_109, 1_700_000_000, 1_700_000_029, 1_700_000_030, 4_102_444_800]


def oathtool(secret: str, at: int, *extra: str, mode: str = "--totp") -> list[str]:
    args = [require_tool("oathtool"), mode, "-b", "-", "--now", f"@{at}", *extra]
    done = subprocess.run(args, input=secret, capture_output=True, text=True, check=True)
    return done.stdout.split()


@pytest.mark.parametrize("at", TIMES)
def test_codes_match_oathtool_for_random_secrets(at: int) -> None:
    for _ in range(5):
        key = new_secret()
        assert oathtool(encode_secret(key), at) == [totp(key, at)]


def test_codes_match_oathtool_at_random_times() -> None:
    key = new_secret()
    for _ in range(20):
        at = secrets.randbelow(2**32)
        assert oathtool(encode_secret(key), at) == [totp(key, at)]


def test_the_steps_oathtool_prints_around_a_time_are_the_ones_matched() -> None:
    # oathtool -w 2 prints the codes of the step and the two after it.
    key = new_secret()
    at = 1_800_000_000
    now, plus1, plus2 = oathtool(encode_secret(key), at - 30, "-w", "2")
    assert match_step(key, now, at) == at // 30 - 1
    assert match_step(key, plus1, at) == at // 30
    assert match_step(key, plus2, at) == at // 30 + 1
    assert match_step(key, oathtool(encode_secret(key), at + 60)[0], at) is None


def test_secrets_oathtool_takes_decode_to_the_same_key() -> None:
    text = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # RFC 6238's "12345678901234567890"
    assert decode_secret(text) == b"12345678901234567890"
    assert oathtool(text, 59, "-d", "8") == ["94287082"]


@pytest.mark.parametrize(
    ("algorithm", "seed", "values"),
    [
        ("sha1", b"12345678901234567890", ["94287082", "07081804", "65353130"]),
        ("sha256", b"12345678901234567890123456789012", ["46119246", "68084774", "77737706"]),
        ("sha512", b"1234567890" * 6 + b"1234", ["90693936", "25091201", "47863826"]),
    ],
)
def test_rfc_6238_appendix_b_values_agree_with_oathtool(
    algorithm: str, seed: bytes, values: list[str]
) -> None:
    for at, value in zip([59, 1_111_111_109, 20_000_000_000], values, strict=True):
        ours = totp(seed, at, digits=8, algorithm=algorithm)
        assert ours == value
        assert oathtool(encode_secret(seed), at, "-d", "8", mode=f"--totp={algorithm}") == [ours]


@pytest.mark.parametrize(
    "options", [{}, {"algorithm": "sha512", "digits": 8, "period": 60}, {"digits": 7}]
)
def test_the_otpauth_uri_read_back_gives_oathtool_the_same_codes(options: dict) -> None:
    key = new_secret()
    uri = otpauth_uri(encode_secret(key), "o'brien@example.org", "Acme & Co: Vault", **options)
    parts = urlsplit(uri)
    issuer, _, name = unquote(parts.path.removeprefix("/")).partition(":")
    query = {k: v[0] for k, v in parse_qs(parts.query, strict_parsing=True).items()}
    assert (issuer, name, query["issuer"]) == ("Acme & Co  Vault", "o'brien@example.org", issuer)
    assert "=" not in query["secret"] and query["secret"].isupper()
    algorithm = query.get("algorithm", "SHA1").lower()
    digits, period = int(query.get("digits", 6)), int(query.get("period", 30))
    at = 1_800_000_017
    expected = totp(key, at, digits=digits, period=period, algorithm=algorithm)
    got = oathtool(
        query["secret"], at, "-d", str(digits), "-s", f"{period}s", mode=f"--totp={algorithm}"
    )
    assert got == [expected]
