"""Passphrase-encrypted PKCS#8 private keys with a strong PBKDF2 work factor.

``cryptography``'s ``BestAvailableEncryption`` writes PKCS#8 with PBKDF2 at 2,048
iterations, too few for a CA key that may sit in a backup for years. This module
writes the same standard structure with 600,000 iterations of PBKDF2-HMAC-SHA256
(the OWASP 2023 figure), which OpenSSL and ``cryptography`` both read:

- EncryptedPrivateKeyInfo, RFC 5958 section 3, PEM label ``ENCRYPTED PRIVATE KEY``
  (RFC 7468 section 11);
- PBES2, RFC 8018 section 6.2, with PBKDF2 (section 5.2) and HMAC-SHA-256 as the PRF
  (RFC 8018 appendix B.1.2), and AES-256-CBC (appendix B.2.5) as the cipher.

Reading goes through ``cryptography.hazmat.primitives.serialization``; only the
writer lives here. The DER encoding covers just the few types this structure uses.
"""

from __future__ import annotations

import base64
import os
import textwrap
from typing import Final

from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

PBKDF2_ITERATIONS: Final = 600_000
SALT_SIZE: Final = 16

_OID_PBES2: Final = "1.2.840.113549.1.5.13"
_OID_PBKDF2: Final = "1.2.840.113549.1.5.12"
_OID_HMAC_SHA256: Final = "1.2.840.113549.2.9"
_OID_AES256_CBC: Final = "2.16.840.1.101.3.4.1.42"


def encrypt_private_key_pem(
    key: PrivateKeyTypes, passphrase: bytes, *, iterations: int = PBKDF2_ITERATIONS
) -> bytes:
    """Return ``key`` as a PEM ``ENCRYPTED PRIVATE KEY`` under ``passphrase``.

    Args:
        key: the private key.
        passphrase: the passphrase, already encoded (see :func:`sealbox.kdf.passphrase_bytes`).
        iterations: PBKDF2 iterations; lower only in tests.
    """
    if not passphrase:
        raise ValueError("the passphrase is empty")
    plain = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    salt, iv = os.urandom(SALT_SIZE), os.urandom(16)
    kek = PBKDF2HMAC(hashes.SHA256(), 32, salt, iterations).derive(passphrase)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(kek), modes.CBC(iv)).encryptor()
    encrypted = encryptor.update(padded) + encryptor.finalize()

    prf = _seq(_oid(_OID_HMAC_SHA256), b"\x05\x00")
    kdf = _seq(_oid(_OID_PBKDF2), _seq(_octets(salt), _integer(iterations), prf))
    cipher = _seq(_oid(_OID_AES256_CBC), _octets(iv))
    algorithm = _seq(_oid(_OID_PBES2), _seq(kdf, cipher))
    der = _seq(algorithm, _octets(encrypted))
    body = "\n".join(textwrap.wrap(base64.b64encode(der).decode(), 64))
    return (
        f"-----BEGIN ENCRYPTED PRIVATE KEY-----\n{body}\n-----END ENCRYPTED PRIVATE KEY-----\n"
    ).encode()


def _tlv(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


def _seq(*items: bytes) -> bytes:
    return _tlv(0x30, b"".join(items))


def _octets(data: bytes) -> bytes:
    return _tlv(0x04, data)


def _integer(value: int) -> bytes:
    # Non-negative, minimal two's complement: a leading zero byte when the top bit is set.
    return _tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        # Base 128, most significant group first, the high bit set on all but the last.
        groups = [arc & 0x7F]
        rest = arc >> 7
        while rest:
            groups.append(0x80 | (rest & 0x7F))
            rest >>= 7
        body.extend(reversed(groups))
    return _tlv(0x06, bytes(body))
