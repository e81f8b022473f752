"""Describing an age file without decrypting it: :func:`inspect` and :class:`FileInfo`.

Kept apart from :mod:`sealbox.age.files` so that encrypting and decrypting do
not load what only ``sealbox inspect`` uses.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sealbox.age._crypto import TAG_SIZE
from sealbox.age._source import Readable, refuse_text_mode
from sealbox.age.files import _open_source
from sealbox.age.format import read_header
from sealbox.age.stream import ENCRYPTED_CHUNK_SIZE, NONCE_SIZE

__all__ = ["FileInfo", "inspect", "plaintext_size"]


@dataclass(frozen=True, slots=True)
class FileInfo:
    """What an age file says about itself without being decrypted.

    Attributes:
        armored: whether the file is ASCII-armored.
        recipient_types: the type of each stanza, in order (``X25519``…).
        postquantum: whether every stanza is post-quantum (``mlkem768x25519``).
        header_size: bytes of the (binary) header.
        payload_size: bytes of the (binary) payload, nonce included.
        plaintext_size: the size of the plaintext the payload holds, or ``None``
            when the payload length is impossible (the file is damaged).
        file_size: bytes of the file as stored.
    """

    armored: bool
    recipient_types: tuple[str, ...]
    postquantum: bool
    header_size: int
    payload_size: int
    plaintext_size: int | None
    file_size: int
    stanza_args: tuple[tuple[str, ...], ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "version": "age-encryption.org/v1",
            "armored": self.armored,
            "recipients": list(self.recipient_types),
            "postquantum": self.postquantum,
            "header_size": self.header_size,
            "payload_size": self.payload_size,
            "plaintext_size": self.plaintext_size,
            "file_size": self.file_size,
        }


def plaintext_size(payload_size: int) -> int | None:
    """The plaintext length a payload of ``payload_size`` bytes (nonce included) holds."""
    sealed = payload_size - NONCE_SIZE
    if sealed < TAG_SIZE:
        return None
    chunks = -(-sealed // ENCRYPTED_CHUNK_SIZE)
    rest = sealed - (chunks - 1) * ENCRYPTED_CHUNK_SIZE
    if rest < TAG_SIZE or (rest == TAG_SIZE and chunks > 1):
        return None
    return sealed - chunks * TAG_SIZE


def inspect(src: Readable) -> FileInfo:
    """Describe an age file read from ``src`` without decrypting it.

    Raises:
        FormatError: the header or armor is malformed.
    """
    refuse_text_mode(src)
    counter = _Counter(src)
    source, armored = _open_source(counter)
    header = read_header(source)
    payload = 0
    buf = memoryview(bytearray(1024 * 1024))
    while n := source.readinto_full(buf):
        payload += n
    types = tuple(s.type for s in header.stanzas)
    return FileInfo(
        armored=armored,
        recipient_types=types,
        postquantum=all(t == "mlkem768x25519" for t in types),
        header_size=len(header.to_bytes()),
        payload_size=payload,
        plaintext_size=plaintext_size(payload),
        file_size=counter.count,
        stanza_args=tuple(s.args for s in header.stanzas),
    )


class _Counter:
    """Counts the bytes read from a stream."""

    def __init__(self, raw: Readable) -> None:
        self._raw = raw
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.count += len(data)
        return data
