"""The envelope byte format: a self-describing header, then the data (``docs/formats.md``).

An envelope is::

    magic "sbe" | format version 0x01 | mode (1)
    | len(provider) (1) | provider (ASCII)
    | len(key id) (1)   | key id (ASCII)
    | key version (4, big-endian; 0 when the provider has none)
    | len(wrapped key) (2, big-endian) | wrapped key
    | data

The header names the key-encryption provider (``keyring``, ``age``,
``vault-transit``), the key-encryption key and its version, and carries the
data key as that provider wrapped it. It is followed by the data, in one of two
modes:

``sealed`` (0x01)
    one AES-256-GCM message under a 32-byte data key:
    ``nonce (12) | ciphertext | tag (16)``, associated data
    ``magic | version | mode | caller's associated data``.
``stream`` (0x02)
    an age v1 payload (age.md, "Payload": 16-byte nonce, then 64 KiB
    ChaCha20-Poly1305 STREAM chunks) under a 16-byte age file key.

What the provider wraps (the *key blob*) is the data key followed by a
commitment to the caller's associated data::

    key blob = data key | SHA-256("sealbox-envelope/1 associated data" | 0x00 | mode | AD)

so the associated data is bound client-side into what the provider protects:
it survives a provider-side rewrap (HashiCorp Vault's ``rewrap`` endpoint takes
no associated data) and opening with other associated data fails before any of
the data is read.

Only the header changes when an envelope is rewrapped; the data bytes stay as
they are.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Final

from sealbox.exceptions import DecryptionError, FormatError

__all__ = [
    "MAGIC",
    "MODE_SEALED",
    "MODE_STREAM",
    "EnvelopeHeader",
    "WrappedKey",
    "binding",
    "check_bytes",
    "envelope_bytes",
    "envelope_text",
    "join_key_blob",
    "parse_header",
    "split_key_blob",
]

MAGIC: Final = b"sbe\x01"
MODE_SEALED: Final = 0x01
MODE_STREAM: Final = 0x02
MODE_NAMES: Final = {MODE_SEALED: "sealed", MODE_STREAM: "stream"}
DATA_KEY_SIZES: Final = {MODE_SEALED: 32, MODE_STREAM: 16}
BINDING_LABEL: Final = b"sealbox-envelope/1 associated data\x00"
BINDING_SIZE: Final = 32
MAX_WRAPPED: Final = 0xFFFF
MAX_VERSION: Final = 0xFFFFFFFF
# The fixed part: magic, mode, provider length.
_FIXED: Final = len(MAGIC) + 2
_PROVIDER: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
_KEY_ID: Final = re.compile(r"[\x21-\x7e]{1,255}")
_TEXT: Final = re.compile(r"[A-Za-z0-9_-]*")


@functools.lru_cache(maxsize=256)
def _check_names(provider: str, key_id: str) -> None:
    # Cached: an application uses a handful of providers and keys, and every
    # envelope it opens names one of them.
    if not _PROVIDER.fullmatch(provider):
        raise ValueError(f"provider name {provider!r} must match [a-z0-9-]{{1,32}}")
    if not _KEY_ID.fullmatch(key_id):
        raise ValueError("a key id must be 1 to 255 printable ASCII characters, no space")


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A data key as a key-encryption provider wrapped it, and which key did it.

    Attributes:
        provider: the provider's name: ``keyring``, ``age`` or ``vault-transit``.
        key_id: the key-encryption key: a keyring key id (8 hex digits), a Vault
            Transit key name, a label for a set of age recipients.
        version: the key's version (Vault Transit); 0 when the provider has none.
        ciphertext: the wrapped key blob, in the provider's own form.
    """

    provider: str
    key_id: str
    version: int
    ciphertext: bytes

    def __post_init__(self) -> None:
        _check_names(self.provider, self.key_id)
        if not 0 <= self.version <= MAX_VERSION:
            raise ValueError("a key version must fit in 32 bits")
        if not 0 < len(self.ciphertext) <= MAX_WRAPPED:
            raise ValueError(f"a wrapped key must be 1 to {MAX_WRAPPED} bytes")

    def __repr__(self) -> str:
        version = f", version={self.version}" if self.version else ""
        return (
            f"WrappedKey(provider={self.provider!r}, key_id={self.key_id!r}{version}, "
            f"{len(self.ciphertext)} bytes)"
        )


@dataclass(frozen=True, slots=True)
class EnvelopeHeader:
    """The header of an envelope: its mode and its wrapped data key.

    Attributes:
        mode: :data:`MODE_SEALED` or :data:`MODE_STREAM`.
        wrapped: the wrapped data key.
    """

    mode: int
    wrapped: WrappedKey

    @property
    def mode_name(self) -> str:
        """``sealed`` or ``stream``."""
        return MODE_NAMES[self.mode]

    def to_bytes(self) -> bytes:
        """Serialise the header (everything before the data)."""
        w = self.wrapped
        provider, key_id = w.provider.encode("ascii"), w.key_id.encode("ascii")
        return b"".join(
            (
                MAGIC,
                bytes((self.mode, len(provider))),
                provider,
                bytes((len(key_id),)),
                key_id,
                w.version.to_bytes(4, "big"),
                len(w.ciphertext).to_bytes(2, "big"),
                w.ciphertext,
            )
        )


def parse_header(data: bytes | bytearray | memoryview) -> tuple[EnvelopeHeader, int]:
    """Parse the header at the start of ``data``; return it and its length in bytes.

    ``data`` may hold the header alone, or the header and any part of the data.

    Raises:
        FormatError: not an envelope, an unknown version or mode, or a truncated
            or malformed header (the message says which).
    """
    view = data if isinstance(data, bytes) else memoryview(data).cast("B")
    size = len(view)
    if size < len(MAGIC) or view[:3] != MAGIC[:3]:
        raise FormatError("not a sealbox envelope (it does not start with 'sbe')")
    if view[3] != MAGIC[3]:
        raise FormatError(
            f"unsupported envelope format version {view[3]}",
            hint="this envelope needs a newer sealbox",
        )
    if size < _FIXED:
        raise FormatError(_truncated("the mode" if size == len(MAGIC) else "the provider length"))
    mode = view[4]
    if mode not in MODE_NAMES:
        raise FormatError(f"unknown envelope mode 0x{mode:02x}")
    end = _FIXED + view[5]
    provider = _text(view, _FIXED, end, "the provider name")
    if end >= size:
        raise FormatError(_truncated("the key id length"))
    start, end = end + 1, end + 1 + view[end]
    key_id = _text(view, start, end, "the key id")
    if end + 6 > size:
        raise FormatError(
            _truncated("the key version" if end + 4 > size else "the wrapped key length")
        )
    version = int.from_bytes(view[end : end + 4], "big")
    start, end = end + 6, end + 6 + int.from_bytes(view[end + 4 : end + 6], "big")
    if end > size:
        raise FormatError(_truncated("the wrapped key"))
    try:
        wrapped = WrappedKey(provider, key_id, version, bytes(view[start:end]))
    except ValueError as exc:
        raise FormatError(f"malformed envelope header: {exc}") from None
    return EnvelopeHeader(mode, wrapped), end


def _truncated(what: str) -> str:
    return f"the envelope header is truncated: {what} is missing"


def _text(view: bytes | memoryview, start: int, end: int, what: str) -> str:
    if end > len(view):
        raise FormatError(_truncated(what))
    raw = bytes(view[start:end])
    if not raw.isascii():
        raise FormatError(f"malformed envelope header: {what} is not ASCII")
    return raw.decode("ascii")


def check_bytes(value: object, name: str) -> None:
    """Refuse what is not bytes-like with a :class:`TypeError` naming the parameter.

    Checked before the provider is called: a ``str`` or ``None`` would otherwise fail
    deep inside, after a data key was wrapped or unwrapped (a Vault round trip).
    """
    if isinstance(value, bytes | bytearray | memoryview):
        return
    fix = ": encode it first (for example with .encode())" if isinstance(value, str) else ""
    raise TypeError(f"{name} must be bytes, not {type(value).__name__}{fix}")


def binding(mode: int, associated_data: bytes) -> bytes:
    """The 32-byte commitment to the associated data that travels in the key blob."""
    return hashlib.sha256(BINDING_LABEL + bytes((mode,)) + associated_data).digest()


def join_key_blob(data_key: bytes, mode: int, associated_data: bytes) -> bytes:
    """``data key | binding``: what the provider wraps."""
    if len(data_key) != DATA_KEY_SIZES[mode]:
        raise ValueError(f"a {MODE_NAMES[mode]} envelope needs a {DATA_KEY_SIZES[mode]}-byte key")
    return data_key + binding(mode, associated_data)


def split_key_blob(blob: bytes, mode: int, associated_data: bytes) -> bytes:
    """Check an unwrapped key blob against the associated data; return the data key.

    Raises:
        DecryptionError: the blob has the wrong size for the mode, or was bound to
            other associated data (the message does not say which).
    """
    size = DATA_KEY_SIZES[mode]
    if len(blob) != size + BINDING_SIZE:
        raise DecryptionError
    if not hmac.compare_digest(blob[size:], binding(mode, associated_data)):
        raise DecryptionError
    return blob[:size]


def sealed_associated_data(associated_data: bytes) -> bytes:
    """The AES-256-GCM associated data of a sealed envelope's data."""
    return MAGIC + bytes((MODE_SEALED,)) + associated_data


def envelope_bytes(
    envelope: bytes | bytearray | memoryview | str,
) -> bytes | bytearray | memoryview:
    """The binary form of an envelope given in either form (text: URL-safe base64)."""
    if not isinstance(envelope, str):
        return envelope
    text = envelope.strip()
    if not _TEXT.fullmatch(text) or len(text) % 4 == 1:
        raise FormatError("not a sealbox envelope: the text is not URL-safe base64")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):  # pragma: no cover - excluded by the checks above
        raise FormatError("not a sealbox envelope: the text is not URL-safe base64") from None


def envelope_text(envelope: bytes) -> str:
    """The text form of an envelope: URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(envelope).rstrip(b"=").decode("ascii")
