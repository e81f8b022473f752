"""sealbox's TOTP codes against the Debian ``oathtool`` (OATH Toolkit), an independent peer.

Skipped with the reason without ``oathtool`` (failed under ``CI=true``);
``scripts/install-system-deps.sh`` installs it.
"""

from __future__ import annotations

import secrets
import subprocess

import pytest

from sealbox.accounts.totp import decode_secret, encode_secret, match_step, new_secret, totp
from tests.conftest import require_tool

TIMES = [0, 59, 1_111_111_109, 1_700_000_000, 1_700_000_029, 1_700_000_030, 4_102_444_800]


def oathtool(secret: str, at: int, *extra: str) -> list[str]:
    args = [require_tool("oathtool"), "--totp", "-b", "-", "--now", f"@{at}", *extra]
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
