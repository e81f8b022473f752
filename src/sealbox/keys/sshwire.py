"""SSH wire encoding (RFC 4251, section 5): ``uint32``, ``string`` and ``mpint``.

Shared by :mod:`sealbox.keys.asymmetric` (OpenSSH key files) and :mod:`sealbox.keys.sshsig`.
"""

from __future__ import annotations

import base64
import hashlib
import struct

from sealbox.exceptions import FormatError

__all__ = ["Reader", "fingerprint_sha256", "mpint", "string", "uint32"]


def uint32(value: int) -> bytes:
    """Encode a ``uint32`` (big-endian)."""
    return struct.pack(">I", value)


def string(value: bytes) -> bytes:
    """Encode a ``string``: its length as a ``uint32``, then the bytes."""
    return struct.pack(">I", len(value)) + value


def mpint(value: int) -> bytes:
    """Encode a non-negative ``mpint``: two's complement, minimal, as a ``string``."""
    if value < 0:
        raise ValueError("negative mpint")
    if value == 0:
        return string(b"")
    # One extra bit so that a set top bit gets a leading zero byte (positive sign).
    return string(value.to_bytes((value.bit_length() + 8) // 8, "big"))


def fingerprint_sha256(blob: bytes) -> str:
    """The ``SHA256:…`` fingerprint of a public key blob, as ``ssh-keygen -l`` prints it."""
    digest = hashlib.sha256(blob).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


class Reader:
    """Reads SSH wire values from a byte string, with precise errors.

    Args:
        data: the bytes to read.
        what: names the structure in error messages ("signature", "key file").
    """

    __slots__ = ("_data", "_pos", "what")

    def __init__(self, data: bytes, what: str) -> None:
        self._data = data
        self._pos = 0
        self.what = what

    def _take(self, n: int, field: str) -> bytes:
        end = self._pos + n
        if end > len(self._data):
            raise FormatError(f"{self.what} is truncated (in {field})")
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    def raw(self, n: int, field: str) -> bytes:
        """Read exactly ``n`` bytes."""
        return self._take(n, field)

    def uint32(self, field: str) -> int:
        """Read a ``uint32``."""
        value: int = struct.unpack(">I", self._take(4, field))[0]
        return value

    def string(self, field: str) -> bytes:
        """Read a ``string``."""
        return self._take(self.uint32(field), field)

    def mpint(self, field: str) -> int:
        """Read a non-negative ``mpint``, refusing negative and non-minimal encodings."""
        raw = self.string(field)
        if not raw:
            return 0
        if raw[0] & 0x80:
            raise FormatError(f"{self.what}: {field} is negative")
        if raw[0] == 0 and (len(raw) == 1 or not raw[1] & 0x80):
            raise FormatError(f"{self.what}: {field} is not minimally encoded")
        return int.from_bytes(raw, "big")

    def remaining(self) -> int:
        """How many bytes are left."""
        return len(self._data) - self._pos

    def rest(self) -> bytes:
        """Read everything that is left."""
        return self._take(self.remaining(), "trailing data")

    def done(self) -> None:
        """Raise :class:`FormatError` if bytes are left over."""
        if self._pos != len(self._data):
            raise FormatError(f"{self.what} has {self.remaining()} unexpected trailing bytes")
