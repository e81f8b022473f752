"""Properties of sealbox.accounts.totp over generated secrets, times and texts."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sealbox.accounts.totp import (
    PERIOD,
    decode_secret,
    encode_secret,
    hash_recovery_code,
    match_step,
    normalize_recovery_code,
    totp,
)

keys = st.binary(min_size=10, max_size=64)
times = st.integers(min_value=2 * PERIOD, max_value=2**40)


@given(keys, times, st.integers(min_value=-1, max_value=1))
def test_a_code_within_one_step_matches_its_own_step(key: bytes, now: int, offset: int) -> None:
    at = now + offset * PERIOD
    step = match_step(key, totp(key, at), now)
    # Another step of the window may share the code (one chance in a million): never a
    # step outside the window.
    assert step is not None
    assert abs(step - now // PERIOD) <= 1
    assert totp(key, step * PERIOD) == totp(key, at)


@given(keys, times)
def test_no_code_matches_at_or_before_the_last_accepted_step(key: bytes, now: int) -> None:
    current = now // PERIOD
    for offset in (-1, 0, 1):
        assert match_step(key, totp(key, now + offset * PERIOD), now, after=current + 1) is None


@given(keys)
def test_base32_secrets_round_trip(key: bytes) -> None:
    text = encode_secret(key)
    assert "=" not in text
    assert decode_secret(text) == key
    assert decode_secret(text.lower()) == key


@given(st.text(max_size=40))
def test_recovery_code_hashing_ignores_case_dashes_and_spaces(text: str) -> None:
    assert hash_recovery_code(text) == hash_recovery_code(normalize_recovery_code(text))
    assert "-" not in normalize_recovery_code(text) and " " not in normalize_recovery_code(text)
