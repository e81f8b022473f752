"""Properties: issue∘verify keeps the claims; any change to a token is refused; strict
base64url round-trips; hash∘verify holds for any text, and NFKC-equal texts match."""

from __future__ import annotations

import base64
import unicodedata

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from sealbox.exceptions import PasswordMismatchError, TokenError
from sealbox.jwt import SigningKeySet
from sealbox.jwt._jws import b64url_decode, b64url_encode
from sealbox.jwt.keyset import REGISTERED_CLAIMS
from sealbox.passwords import PasswordHasher

KEYS = SigningKeySet.generate()
VERIFIER = KEYS.verifier(audience="api")
HASHER = PasswordHasher("test")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
claim_sets = st.dictionaries(
    st.text(min_size=1, max_size=12).filter(lambda k: k not in REGISTERED_CLAIMS),
    json_values,
    max_size=6,
)


@given(claim_sets, st.text(min_size=1, max_size=40))
def test_issue_then_verify_keeps_every_claim(extra, subject):
    token = KEYS.issue(subject, audience="api", claims=extra)
    claims = VERIFIER.verify(token)
    assert claims["sub"] == subject
    for name, value in extra.items():
        assert claims[name] == value


ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.="


@given(st.data())
def test_any_single_character_change_is_refused(data):
    token = KEYS.issue("user", audience="api")
    index = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from(ALPHABET))
    assume(replacement != token[index])
    with pytest.raises(TokenError):
        VERIFIER.verify(token[:index] + replacement + token[index + 1 :])


@given(st.binary(max_size=200))
def test_b64url_round_trip(data):
    text = b64url_encode(data)
    assert "=" not in text
    assert b64url_decode(text, "x") == data
    assert base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)) == data


@given(st.text(min_size=1, max_size=30))
def test_hash_then_verify(password):
    stored = HASHER.hash(password)
    assert HASHER.verify(stored, password).needs_rehash is False
    assert HASHER.verify(stored, unicodedata.normalize("NFKC", password)).scheme == "argon2id"
    assert HASHER.verify(stored, unicodedata.normalize("NFC", password)).scheme == "argon2id"
    with pytest.raises(PasswordMismatchError):
        HASHER.verify(stored, password + "!")
