"""The transit hot loops' base64 codec gives the standard library's bytes: encoding always,
decoding for every text of whole quanta it takes (it may refuse more, never less)."""

from __future__ import annotations

import binascii

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sealbox.transit import formats
from sealbox.transit.formats import (
    STDLIB_DECODE,
    STDLIB_ENCODE,
    decode_quanta,
    decode_quanta_many,
    encode_b64,
)

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# The alphabet, padding, and what neighbours it: the URL-safe pair, blanks, quotes, non-ASCII.
_TEXT_CHARS = st.sampled_from([*_ALPHABET, "=", "-", "_", " ", "\n", '"', "\\", "é"])


def test_the_service_install_uses_the_vectorised_codec() -> None:
    # The service extra brings pybase64; without it the codec is the standard library's.
    pytest.importorskip("pybase64", reason="pybase64 (the service extra) is not installed")
    assert formats.encode_b64 is not STDLIB_ENCODE
    assert formats.decode_quanta is not STDLIB_DECODE


@given(st.binary(max_size=300))
def test_encoding_gives_the_standard_librarys_bytes(data: bytes) -> None:
    assert encode_b64(data) == STDLIB_ENCODE(data)
    assert decode_quanta(encode_b64(data).decode()) == data


def _stdlib(text: str) -> bytes | None:
    try:
        return STDLIB_DECODE(text)
    except (binascii.Error, ValueError):
        return None


@given(st.lists(_TEXT_CHARS, max_size=24).map("".join).filter(lambda t: len(t) % 4 == 0))
def test_decoding_whole_quanta_takes_only_what_the_standard_library_takes_and_agrees(
    text: str,
) -> None:
    try:
        decoded = decode_quanta(text)
    except ValueError:
        return  # refused: the caller asks decode_b64, whose answer stands
    assert decoded == _stdlib(text)


@given(st.binary(min_size=1, max_size=60), st.integers(0, 3))
def test_non_canonical_trailing_bits_decode_as_the_standard_library_decodes(
    data: bytes, bits: int
) -> None:
    text = STDLIB_ENCODE(data).decode()
    padded = text.rstrip("=")
    if len(padded) == len(text):
        return  # no partial quantum: no trailing bits to set
    last = _ALPHABET.index(padded[-1]) | bits
    text = padded[:-1] + _ALPHABET[last] + "=" * (len(text) - len(padded))
    try:
        decoded = decode_quanta(text)
    except ValueError:
        return
    assert decoded == _stdlib(text)


@given(st.lists(st.lists(_TEXT_CHARS, max_size=12).map("".join), max_size=6))
def test_decoding_many_texts_is_decoding_each_or_refusing_at_the_first_refused(
    texts: list[str],
) -> None:
    each: list[bytes] = []
    for text in texts:
        try:
            each.append(decode_quanta(text))
        except ValueError:
            with pytest.raises(ValueError):
                decode_quanta_many(texts)
            return
    assert decode_quanta_many(texts) == each
