"""Bech32 encoding of age keys (age.md, "Conventions"; BIP 173 without the length limit).

age encodes its public keys (``age1…``, ``age1pq1…``) and identities
(``AGE-SECRET-KEY-1…``, ``AGE-SECRET-KEY-PQ-1…``) as Bech32 strings. The
encoding is BIP 173's, except that the data part may be of any length (a
post-quantum recipient is 1,216 bytes). A string is all lowercase or all
uppercase; the checksum is always computed over the lowercase form.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import Final

from sealbox.exceptions import KeyFormatError

__all__ = ["decode", "encode"]

CHARSET: Final = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_VALUES: Final = {c: i for i, c in enumerate(CHARSET)}
#: The longest Bech32 string decoded: an age1pq1 recipient (ML-KEM-768 and X25519,
#: 1,216 bytes) is about 1,960 characters; the checksum of a longer one would cost
#: about half a second a megabyte before it could be refused.
MAX_LENGTH: Final = 4096
_GENERATOR: Final = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


def _polymod(values: list[int]) -> int:
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            if (top >> i) & 1:
                chk ^= _GENERATOR[i]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convert_bits(data: bytes | list[int], from_bits: int, to_bits: int, *, pad: bool) -> list[int]:
    acc = bits = 0
    out: list[int] = []
    maxv = (1 << to_bits) - 1
    for value in data:
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (to_bits - bits)) & maxv)
    elif bits >= from_bits or (acc << (to_bits - bits)) & maxv:
        raise KeyFormatError("invalid Bech32 padding")
    return out


def encode(hrp: str, data: bytes) -> str:
    """Encode ``data`` under the human-readable part ``hrp`` (lowercase result).

    An uppercase ``hrp`` gives an uppercase string, as age writes identities.
    """
    upper = hrp.isupper()
    low = hrp.lower()
    words = _convert_bits(data, 8, 5, pad=True)
    polymod = _polymod([*_hrp_expand(low), *words, 0, 0, 0, 0, 0, 0]) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    text = low + "1" + "".join(CHARSET[w] for w in words + checksum)
    return text.upper() if upper else text


def decode(text: str) -> tuple[str, bytes]:
    """Decode a Bech32 string into its human-readable part (as written) and data.

    Raises:
        KeyFormatError: longer than :data:`MAX_LENGTH`, mixed case, a character
            outside the alphabet, a bad checksum or bad padding. The message never
            repeats the string.
    """
    if len(text) > MAX_LENGTH:
        raise KeyFormatError(
            f"Bech32 string is {len(text):,} characters long; the longest age key is "
            f"under {MAX_LENGTH:,}"
        )
    if not text.isascii() or any(not 33 <= ord(c) <= 126 for c in text):
        raise KeyFormatError("invalid character in Bech32 string")
    if text.lower() != text and text.upper() != text:
        raise KeyFormatError("Bech32 string mixes upper and lower case")
    pos = text.rfind("1")
    if pos < 1 or pos + 7 > len(text):
        raise KeyFormatError("Bech32 string has no separator or is too short")
    hrp = text[:pos]
    low = text.lower()
    try:
        words = [_VALUES[c] for c in low[pos + 1 :]]
    except KeyError:
        raise KeyFormatError("invalid character in Bech32 data") from None
    if _polymod([*_hrp_expand(hrp.lower()), *words]) != 1:
        raise KeyFormatError("invalid Bech32 checksum")
    return hrp, bytes(_convert_bits(words[:-6], 5, 8, pad=False))
