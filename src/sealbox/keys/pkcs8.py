"""Encrypted PKCS#8 private keys (RFC 5958 section 3) with PBES2 (RFC 8018 section 6.2).

sealbox writes ``EncryptedPrivateKeyInfo`` with PBES2 = scrypt (RFC 7914 section 7)
+ AES-256-CBC, which OpenSSL (``openssl pkey``) and pyca/cryptography read.
pyca's own ``BestAvailableEncryption`` uses PBKDF2-HMAC-SHA256 with 2,048
iterations, far below current guidance, and has no way to ask for more.

When reading, :func:`check_kdf` looks at the KDF parameters a file asks for
before anything is derived, so a hostile file cannot make sealbox spend
gigabytes of memory or minutes of CPU; decryption itself is pyca's.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Final

from sealbox.exceptions import ConfigError, FormatError, KeyFormatError
from sealbox.hazmat import kdf

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

__all__ = [
    "PBKDF2_MAX_ITERATIONS",
    "SCRYPT_CEILING",
    "SCRYPT_DEFAULT",
    "check_kdf",
    "encrypt",
    "encrypt_pem",
    "unreadable_cipher",
]

# OWASP Password Storage Cheat Sheet lists scrypt N=2^17, r=8, p=1 and, as equivalent
# work, N=2^14, r=8, p=5. OpenSSL 3 refuses PBES2 scrypt above 32 MiB (N=2^15 with
# r=8 already exceeds it), so the equivalent that every OpenSSL reads is the one used.
SCRYPT_DEFAULT: Final = kdf.ScryptParams(log_n=14, r=8, p=5)
# The most a key file may ask for when read: 1 GiB of memory, 16 lanes.
SCRYPT_CEILING: Final = kdf.ScryptParams(log_n=20, r=8, p=16)
SCRYPT_MAX_MEMORY: Final = 1 << 30
# PBKDF2 files (OpenSSL's default, pyca's BestAvailableEncryption) up to ~1 s of work.
PBKDF2_MAX_ITERATIONS: Final = 10_000_000

_PBES2: Final = "1.2.840.113549.1.5.13"
_PBKDF2: Final = "1.2.840.113549.1.5.12"
_SCRYPT: Final = "1.3.6.1.4.1.11591.4.11"
_AES256_CBC: Final = "2.16.840.1.101.3.4.1.42"
# The PBES2 ciphers pyca/cryptography decrypts; names for the others OpenSSL writes.
_READABLE_CIPHERS: Final = frozenset(
    {"2.16.840.1.101.3.4.1.2", "2.16.840.1.101.3.4.1.22", _AES256_CBC, "1.2.840.113549.3.7"}
)
_CIPHER_NAMES: Final = {
    "1.2.392.200011.61.1.1.1.2": "camellia-128-cbc",
    "1.2.392.200011.61.1.1.1.3": "camellia-192-cbc",
    "1.2.392.200011.61.1.1.1.4": "camellia-256-cbc",
    "1.2.410.200046.1.1.2": "aria-128-cbc",
    "1.2.410.200046.1.1.7": "aria-192-cbc",
    "1.2.410.200046.1.1.12": "aria-256-cbc",
}

_SEQUENCE, _INTEGER, _OCTETS, _OID = 0x30, 0x02, 0x04, 0x06


def encrypt(pkcs8_der: bytes, passphrase: bytes, params: kdf.ScryptParams) -> bytes:
    """Return the DER ``EncryptedPrivateKeyInfo`` of an unencrypted PKCS#8 key."""
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    salt, iv = os.urandom(16), os.urandom(16)
    key = kdf.scrypt(passphrase, salt, params, 32)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(pkcs8_der) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    scrypt_params = _seq(
        _tlv(_OCTETS, salt), _int(1 << params.log_n), _int(params.r), _int(params.p)
    )
    algorithm = _seq(
        _oid(_PBES2),
        _seq(_seq(_oid(_SCRYPT), scrypt_params), _seq(_oid(_AES256_CBC), _tlv(_OCTETS, iv))),
    )
    return _seq(algorithm, _tlv(_OCTETS, ciphertext))


def encrypt_pem(
    key: PrivateKeyTypes, passphrase: bytes, params: kdf.ScryptParams = SCRYPT_DEFAULT
) -> bytes:
    """Return ``key`` as a PEM ``ENCRYPTED PRIVATE KEY`` (RFC 7468 section 11)."""
    from cryptography.hazmat.primitives import serialization

    from sealbox._util import pem as _pem

    if not passphrase:
        raise ConfigError("the passphrase is empty", code="empty_passphrase")
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return _pem.encode("ENCRYPTED PRIVATE KEY", encrypt(der, passphrase, params))


def check_kdf(der: bytes, what: str) -> None:
    """Refuse an ``EncryptedPrivateKeyInfo`` whose KDF asks for too much work.

    Only PBES2 with scrypt or PBKDF2 is inspected; other schemes (PBES1) have a
    fixed, small cost and are left to pyca.

    Raises:
        KeyFormatError: the structure is not DER, or its parameters exceed the ceiling.
    """
    try:
        outer = _Der(der, what).sequence()
        algorithm = outer.sequence()
        if algorithm.oid() != _PBES2:
            return
        kdf_alg = algorithm.sequence().sequence()
        kdf_oid = kdf_alg.oid()
        if kdf_oid not in (_SCRYPT, _PBKDF2):
            return
        params = kdf_alg.sequence()
        params.octets()  # the salt
        first = params.integer()
        r, lanes = (params.integer(), params.integer()) if kdf_oid == _SCRYPT else (0, 0)
    except FormatError as exc:
        raise KeyFormatError(str(exc)) from None
    if kdf_oid == _PBKDF2:
        if first > PBKDF2_MAX_ITERATIONS:
            raise KeyFormatError(
                f"{what} asks for {first} PBKDF2 iterations, beyond what sealbox "
                f"accepts ({PBKDF2_MAX_ITERATIONS})"
            )
        return
    n = first
    if (
        n < 2
        or n & (n - 1)
        or n > 1 << SCRYPT_CEILING.log_n
        or lanes > SCRYPT_CEILING.p
        or 128 * r * n > SCRYPT_MAX_MEMORY
    ):
        raise KeyFormatError(
            f"{what} asks for scrypt N={n} r={r} p={lanes}, beyond what sealbox "
            f"accepts (N <= 2^{SCRYPT_CEILING.log_n}, p <= {SCRYPT_CEILING.p}, "
            "1 GiB of memory)"
        )


def unreadable_cipher(der: bytes) -> str | None:
    """The PBES2 cipher of an ``EncryptedPrivateKeyInfo`` when pyca cannot decrypt it.

    ``"camellia-256-cbc (1.2.392.200011.61.1.1.1.4)"``, or the OID alone; ``None`` for
    a cipher pyca reads, another scheme or a structure that does not parse. pyca says
    only "cannot decrypt" for such a file, which would read as a wrong passphrase.
    """
    try:
        algorithm = _Der(der, "key").sequence().sequence()
        if algorithm.oid() != _PBES2:
            return None
        params = algorithm.sequence()
        params.sequence()  # the KDF
        oid = params.sequence().oid()
    except FormatError:
        return None
    if oid in _READABLE_CIPHERS:
        return None
    return f"{_CIPHER_NAMES[oid]} ({oid})" if oid in _CIPHER_NAMES else oid


# --- the little DER this needs (X.690) -------------------------------------------------


def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def _seq(*items: bytes) -> bytes:
    return _tlv(_SEQUENCE, b"".join(items))


def _int(value: int) -> bytes:
    return _tlv(_INTEGER, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        rest = arc
        chunk = [rest & 0x7F]
        rest >>= 7
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        body += bytes(reversed(chunk))
    return _tlv(_OID, bytes(body))


class _Der:
    """A cursor over DER TLVs that raises FormatError on anything unexpected."""

    def __init__(self, data: bytes, what: str) -> None:
        self._data = data
        self._pos = 0
        self._what = what

    def _next(self, tag: int) -> bytes:
        data, pos = self._data, self._pos
        if pos + 2 > len(data) or data[pos] != tag:
            raise FormatError(f"{self._what} is not a valid encrypted PKCS#8 structure")
        length = data[pos + 1]
        pos += 2
        if length & 0x80:
            size = length & 0x7F
            if not 1 <= size <= 4 or pos + size > len(data):
                raise FormatError(f"{self._what} is not a valid encrypted PKCS#8 structure")
            length = int.from_bytes(data[pos : pos + size], "big")
            pos += size
        if pos + length > len(data):
            raise FormatError(f"{self._what} is truncated")
        self._pos = pos + length
        return data[pos : pos + length]

    def sequence(self) -> _Der:
        return _Der(self._next(_SEQUENCE), self._what)

    def octets(self) -> bytes:
        return self._next(_OCTETS)

    def integer(self) -> int:
        raw = self._next(_INTEGER)
        if not raw or raw[0] & 0x80:
            raise FormatError(f"{self._what}: a KDF parameter is not a positive integer")
        return int.from_bytes(raw, "big")

    def oid(self) -> str:
        raw = self._next(_OID)
        if not raw:
            raise FormatError(f"{self._what}: empty object identifier")
        arcs = [raw[0] // 40, raw[0] % 40]
        value = 0
        for byte in raw[1:]:
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                arcs.append(value)
                value = 0
        return ".".join(map(str, arcs))
