"""Making keys: fresh ones, and Ed25519/X25519 keys from their raw 32 bytes.

RSA keys use the public exponent 65537 and :data:`~sealbox.keys.kinds.RSA_DEFAULT_BITS`
unless told otherwise; ECDSA keys are on P-256. The functions return
pyca/cryptography keys; :class:`~sealbox.keys.asymmetric.PrivateKey` and
:class:`~sealbox.keys.asymmetric.PublicKey` wrap them.
"""

from __future__ import annotations

from typing import Final

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x25519

from sealbox.exceptions import ConfigError, KeyFormatError
from sealbox.keys.kinds import (
    RSA_DEFAULT_BITS,
    RSA_MAX_BITS,
    RSA_MIN_BITS,
    KeyType,
    PycaPrivate,
    PycaPublic,
)

__all__ = ["generate_private", "private_from_raw", "public_from_raw"]

_RSA_EXPONENT: Final = 65537


def generate_private(kind: KeyType, bits: int | None = None) -> PycaPrivate:
    """A new private key of ``kind`` (``bits``: the RSA modulus size, 2048 to 8192).

    Raises:
        ConfigError: ``bits`` for a non-RSA key, or RSA bits out of range.
        TypeError: ``bits`` is not an int.
    """
    if kind is not KeyType.RSA:
        if bits is not None:
            raise ConfigError(f"bits apply to rsa keys only, not {kind}")
        if kind is KeyType.ED25519:
            return ed25519.Ed25519PrivateKey.generate()
        if kind is KeyType.X25519:
            return x25519.X25519PrivateKey.generate()
        return ec.generate_private_key(ec.SECP256R1())
    bits = RSA_DEFAULT_BITS if bits is None else bits
    if isinstance(bits, bool) or not isinstance(bits, int):
        raise TypeError("bits must be an int")
    if bits < RSA_MIN_BITS:
        raise ConfigError(
            f"RSA keys of {bits} bits are too small: the minimum is {RSA_MIN_BITS}",
            hint=f"use {RSA_DEFAULT_BITS} (the default) or an ed25519 key",
            code="rsa_bits_too_small",
            facts={"bits": str(bits), "default_bits": str(RSA_DEFAULT_BITS)},
        )
    if bits > RSA_MAX_BITS:
        raise ConfigError(
            f"RSA keys of {bits} bits are not generated: the maximum is {RSA_MAX_BITS}"
        )
    return rsa.generate_private_key(public_exponent=_RSA_EXPONENT, key_size=bits)


def private_from_raw(kind: KeyType, raw: bytes) -> PycaPrivate:
    """An Ed25519 (RFC 8032 seed) or X25519 (RFC 7748 scalar) private key from 32 bytes.

    Raises:
        ConfigError: another key type.
        KeyFormatError: not 32 bytes.
    """
    try:
        if kind is KeyType.ED25519:
            return ed25519.Ed25519PrivateKey.from_private_bytes(raw)
        if kind is KeyType.X25519:
            return x25519.X25519PrivateKey.from_private_bytes(raw)
    except ValueError:
        raise KeyFormatError(f"a raw {kind} private key is 32 bytes") from None
    raise ConfigError("raw private keys exist for ed25519 and x25519 only")


def public_from_raw(kind: KeyType, data: bytes) -> PycaPublic:
    """An Ed25519 or X25519 public key from its 32 raw bytes (RFC 8032, RFC 7748).

    Raises:
        ConfigError: another key type.
        KeyFormatError: not 32 bytes, or not a valid point.
    """
    try:
        if kind is KeyType.ED25519:
            return ed25519.Ed25519PublicKey.from_public_bytes(data)
        if kind is KeyType.X25519:
            return x25519.X25519PublicKey.from_public_bytes(data)
    except ValueError:
        raise KeyFormatError(f"not a valid raw {kind} public key") from None
    raise ConfigError("raw public keys exist for ed25519 and x25519 only")
