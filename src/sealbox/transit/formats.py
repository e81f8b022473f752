"""The text form of ciphertexts, signatures and HMACs: ``sealbox:v<N>:<base64>``.

``N`` is the key version in decimal (1 to 2^31 - 1, no leading zero) and the base64
(standard alphabet, padded) holds the primitive's output: ``nonce (12) || ciphertext
|| tag (16)`` for AES-256-GCM and ChaCha20-Poly1305, ``synthetic IV (16) ||
ciphertext`` for AES-256-SIV, the signature, or the 32-byte HMAC. The caller's
associated data is the AEAD's associated data, unchanged. The layout is Vault
Transit's with ``sealbox:`` for ``vault:`` (see ``docs/formats.md``); the parsers also
read Vault's spelling, ``vault:v<N>:<base64>`` (what the service's Vault-shaped routes
answer), so a key opens what either spelling carries. :func:`vault_spelling` turns one
into the other.

Binary request fields (plaintexts, associated data, inputs) travel as standard base64
with padding: :func:`decode_b64`. :func:`encode_b64` and :func:`decode_quanta` are the
codec of the hot loops (a batch's hundred items): pybase64's vectorised one where it is
installed (the ``service`` extra brings it), the standard library's otherwise; both give
the same bytes (a test compares them).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import binascii
from collections.abc import Callable, Iterable
from functools import partial
from itertools import repeat
from typing import Final

from sealbox.transit.errors import InvalidCiphertextError, InvalidRequestError

__all__ = [
    "MAX_VERSION",
    "PREFIX",
    "VAULT_PREFIX",
    "decode_b64",
    "decode_quanta",
    "decode_quanta_many",
    "encode_b64",
    "format_versioned",
    "parse_versioned",
    "peek_version",
    "split_version",
    "vault_spelling",
]

PREFIX: Final = "sealbox:v"
VAULT_PREFIX: Final = "vault:v"
"""Vault Transit's prefix: read as :data:`PREFIX` is."""
MAX_VERSION: Final = 2**31 - 1
"""The highest key version (versions are stored in a 32-bit signed column)."""


STDLIB_ENCODE: Final[Callable[[bytes], bytes]] = partial(binascii.b2a_base64, newline=False)
STDLIB_DECODE: Final[Callable[[str], bytes]] = partial(binascii.a2b_base64, strict_mode=True)

encode_b64: Callable[[bytes], bytes]
"""Standard base64 with padding and no newline, as ASCII bytes."""
decode_quanta: Callable[[str], bytes]
"""Strict standard base64 (``ValueError`` otherwise). Given whole quanta (a length that
is a multiple of 4) it gives :data:`STDLIB_DECODE`'s bytes or refuses; pybase64 refuses
a few texts the standard library takes, never the reverse, so a caller that sends a
refused text through :func:`decode_b64` answers as :func:`decode_b64` does."""
decode_quanta_many: Callable[[Iterable[str]], list[bytes]]
""":data:`decode_quanta` of every text, in order (``ValueError`` at the first it refuses):
a batch's decoding in one call, with no Python frame per text."""
try:
    import pybase64
except ImportError:  # the core install
    encode_b64, decode_quanta = STDLIB_ENCODE, STDLIB_DECODE

    def _decode_each(texts: Iterable[str]) -> list[bytes]:
        return list(map(STDLIB_DECODE, texts))

    decode_quanta_many = _decode_each
else:
    encode_b64 = pybase64.b64encode
    _vectorised_decode = pybase64.b64decode

    def _decode_quanta(text: str) -> bytes:
        # ``validate`` by position: pybase64 parses a keyword argument slower than it
        # decodes a batch item's 1.4 KB.
        return _vectorised_decode(text, None, True)  # noqa: FBT003 - validate=True

    decode_quanta = _decode_quanta

    def _decode_many(texts: Iterable[str]) -> list[bytes]:
        # validate=True by position, as above.
        return list(map(_vectorised_decode, texts, repeat(None), repeat(True)))  # noqa: FBT003

    decode_quanta_many = _decode_many


def format_versioned(version: int, data: bytes) -> str:
    """``sealbox:v<version>:<standard base64 of data>``."""
    return f"{PREFIX}{version}:{encode_b64(data).decode('ascii')}"


def vault_spelling(text: str) -> str:
    """``sealbox:v<N>:…`` written as Vault writes it, ``vault:v<N>:…`` (other text unchanged)."""
    if text.startswith(PREFIX):
        return VAULT_PREFIX + text[len(PREFIX) :]
    return text


def split_version(text: object) -> tuple[int, int] | None:
    """The version a ``sealbox:v<N>:…`` (or ``vault:v<N>:…``) string names and where the
    text after ``N:`` starts, or ``None``.

    Only the digits are copied, not the text: a batch looks at every item's prefix.
    """
    if not isinstance(text, str):
        return None
    if text.startswith(PREFIX):
        start = len(PREFIX)
    elif text.startswith(VAULT_PREFIX):
        start = len(VAULT_PREFIX)
    else:
        return None
    # At most 10 digits (MAX_VERSION has 10), then the colon.
    end = text.find(":", start, start + 11)
    if end < 0:
        return None
    digits = text[start:end]
    if not digits.isascii() or not digits.isdigit() or digits[0] == "0":
        return None  # also an empty version: "".isdigit() is False
    version = int(digits)
    return (version, end + 1) if version <= MAX_VERSION else None


def peek_version(text: object) -> int | None:
    """The version a ``sealbox:v<N>:…`` (or ``vault:v<N>:…``) string names, or ``None``."""
    found = split_version(text)
    return None if found is None else found[0]


def parse_versioned(text: object, what: str = "ciphertext") -> tuple[int, bytes]:
    """Split ``sealbox:v<N>:<base64>`` (or ``vault:v<N>:<base64>``) into the version and
    the bytes.

    Args:
        text: the ciphertext, signature or HMAC.
        what: what it is, for the message (``"signature"``).

    Raises:
        InvalidCiphertextError: not in that form.
    """
    if not isinstance(text, str) or (found := split_version(text)) is None:
        raise InvalidCiphertextError(
            f"the {what} is not in the form sealbox:v<N>:<base64>", facts={"what": what}
        )
    version, start = found
    body = text[start:]
    # Whole quanta, padding only in the last one: the decoder, even in strict mode, takes
    # "=" after a whole last quantum ("AAAA=", "AAAA===="), a second spelling of one
    # ciphertext that a lookup by ciphertext (aes256-siv) would miss.
    if not len(body) % 4 and "=" not in body[:-2]:
        try:
            return version, STDLIB_DECODE(body)
        except (binascii.Error, ValueError):
            pass
    raise InvalidCiphertextError(
        f"the {what} is not valid base64 after its prefix", facts={"what": what}
    )


def decode_b64(value: str | None, field: str) -> bytes:
    """The bytes of a base64 request field.

    Raises:
        InvalidRequestError: the field is missing or not valid base64 (facts: ``field``).
    """
    if value is None:
        raise InvalidRequestError(f"missing {field}", facts={"field": field})
    if not value:
        return b""
    try:
        # What base64.b64decode(value, validate=True) does, without its two wrappers:
        # non-ASCII text is a ValueError, anything outside the alphabet a binascii.Error.
        return STDLIB_DECODE(value)
    except (binascii.Error, ValueError):
        raise InvalidRequestError(f"{field} is not valid base64", facts={"field": field}) from None
