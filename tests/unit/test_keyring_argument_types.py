"""A `Keyring` given a value of the wrong type says which parameter and what it takes, as
pyca/cryptography does, rather than failing deep inside or on a value it made up."""

from __future__ import annotations

import re

import pytest

from sealbox.keysets.keyring import Keyring


@pytest.fixture(scope="module")
def ring() -> Keyring:
    return Keyring.generate()


def _calls(ring: Keyring, bad: object) -> dict[str, tuple[str, object]]:
    token = ring.seal(b"v", b"ad")
    det = ring.seal_deterministic(b"v", b"ad")
    return {
        "seal data": ("data", lambda: ring.seal(bad)),  # type: ignore[arg-type]
        "seal associated_data": ("associated_data", lambda: ring.seal(b"v", bad)),  # type: ignore[arg-type]
        "open token": ("token", lambda: ring.open(bad)),  # type: ignore[arg-type]
        "open associated_data": ("associated_data", lambda: ring.open(token, bad)),  # type: ignore[arg-type]
        "reseal associated_data": ("associated_data", lambda: ring.reseal(token, bad)),  # type: ignore[arg-type]
        "reseal token": ("token", lambda: ring.reseal(bad)),  # type: ignore[arg-type]
        "seal_deterministic data": ("data", lambda: ring.seal_deterministic(bad)),  # type: ignore[arg-type]
        "seal_deterministic associated_data": (
            "associated_data",
            lambda: ring.seal_deterministic(b"v", bad),  # type: ignore[arg-type]
        ),
        "open deterministic associated_data": ("associated_data", lambda: ring.open(det, bad)),  # type: ignore[arg-type]
        "deterministic_tokens data": ("data", lambda: ring.deterministic_tokens(bad)),  # type: ignore[arg-type]
        "blind_index data": ("data", lambda: ring.blind_index(bad)),  # type: ignore[arg-type]
        "blind_index context": ("context", lambda: ring.blind_index(b"v", bad)),  # type: ignore[arg-type]
        "blind_indexes context": ("context", lambda: ring.blind_indexes(b"v", bad)),  # type: ignore[arg-type]
        "seal_text associated_data": ("associated_data", lambda: ring.seal_text("v", bad)),  # type: ignore[arg-type]
        "open_text associated_data": (
            "associated_data",
            lambda: ring.open_text(ring.seal_text("v", b"ad"), bad),  # type: ignore[arg-type]
        ),
    }


@pytest.mark.parametrize("call", list(_calls(Keyring.generate(), None)))
def test_a_str_where_bytes_are_expected_is_a_type_error_naming_the_parameter(ring, call) -> None:
    name, run = _calls(ring, "users.card:42")[call]
    with pytest.raises(TypeError) as info:
        run()  # type: ignore[operator]
    fix = (
        "a token in its text form opens with open_text()"
        if name == "token"
        else "encode it first (for example with .encode())"
    )
    assert str(info.value) == f"{name} must be bytes, not str: {fix}"


@pytest.mark.parametrize("bad", [None, 5, 1.5, ["a"]], ids=repr)
@pytest.mark.parametrize("call", list(_calls(Keyring.generate(), None)))
def test_a_value_that_is_no_bytes_is_a_type_error_naming_the_parameter(ring, call, bad) -> None:
    name, run = _calls(ring, bad)[call]
    with pytest.raises(TypeError, match=re.escape(f"{name} must be bytes, not ")) as info:
        run()  # type: ignore[operator]
    assert type(bad).__name__ in str(info.value)


def test_an_int_token_is_refused_rather_than_read_as_that_many_zero_bytes(ring) -> None:
    # bytes(17) is 17 zero bytes: that token would only have failed to decrypt.
    with pytest.raises(TypeError, match="token must be bytes, not int"):
        ring.open(17)  # type: ignore[arg-type]


def test_bytearray_and_memoryview_are_taken_wherever_bytes_are(ring) -> None:
    for kind in (bytearray, memoryview):
        token = ring.seal(kind(b"value"), kind(b"ad"))
        assert ring.open(kind(token), kind(b"ad")) == b"value"
        assert ring.reseal(kind(token), kind(b"ad")) != token
        det = ring.seal_deterministic(kind(b"value"), kind(b"ad"))
        assert det == ring.seal_deterministic(b"value", b"ad")
        assert ring.open(det, kind(b"ad")) == b"value"
        assert ring.blind_index(kind(b"value"), kind(b"c")) == ring.blind_index(b"value", b"c")
