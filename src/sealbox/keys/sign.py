"""Signatures with pinned algorithms: RSA-PSS, Ed25519 and ECDSA P-256.

==============  ===========================================================
key type        signature
==============  ===========================================================
``rsa``         RSASSA-PSS, SHA-256, MGF1-SHA-256, 32-byte salt (RFC 8017 8.1)
``ed25519``     Ed25519 (RFC 8032 section 5.1)
``ecdsa-p256``  ECDSA P-256 with SHA-256, DER (FIPS 186-5)
``x25519``      none: refused with :class:`~sealbox.exceptions.UnsupportedAlgorithmError`
==============  ===========================================================

A failed verification raises :class:`~sealbox.exceptions.InvalidSignatureError` with one
fixed message, whatever the cause.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from sealbox.exceptions import ConfigError, InvalidSignatureError, UnsupportedAlgorithmError
from sealbox.keys.kinds import KeyType, PycaPrivate, PycaPublic

__all__ = ["PSS_SALT_LENGTH", "cannot_sign", "signer", "verify"]

# The salt length of RFC 8446 section 4.2.3 and of JWS PS256: the digest length.
PSS_SALT_LENGTH: Final = 32

_SHA256: Final = hashes.SHA256()
_PSS: Final = padding.PSS(mgf=padding.MGF1(_SHA256), salt_length=PSS_SALT_LENGTH)
_ECDSA: Final = ec.ECDSA(_SHA256)


def cannot_sign(kind: KeyType) -> UnsupportedAlgorithmError:
    """The error for signing or verifying with a key that cannot (X25519)."""
    return UnsupportedAlgorithmError(
        f"{kind} keys cannot sign",
        hint="use an ed25519, ecdsa-p256 or rsa key to sign",
        code="cannot_sign",
        facts={"key_type": str(kind)},
    )


def signer(key: PycaPrivate, kind: KeyType) -> Callable[[bytes], bytes]:
    """The function that signs with ``key`` (bound once: one call on top of pyca's)."""
    if isinstance(key, rsa.RSAPrivateKey):
        return lambda data: key.sign(data, _PSS, _SHA256)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return lambda data: key.sign(data, _ECDSA)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign

    def refuse(data: bytes) -> bytes:  # noqa: ARG001 - a signer takes the data
        raise cannot_sign(kind)

    return refuse


def verify(
    key: PycaPublic,
    kind: KeyType,
    signature: bytes,
    data: bytes,
    *,
    pss_salt_length: int | None = None,
) -> None:
    """Check ``signature`` over ``data`` (``pss_salt_length``: RSA only, 32 by default).

    Raises:
        InvalidSignatureError: the signature does not verify (one fixed message).
        UnsupportedAlgorithmError: X25519 keys do not sign.
        ConfigError: a negative ``pss_salt_length``.
    """
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, _ECDSA)
        elif isinstance(key, rsa.RSAPublicKey):
            pss = _PSS
            if pss_salt_length is not None:
                if pss_salt_length < 0:
                    raise ConfigError(
                        f"a PSS salt length is 0 or more, not {pss_salt_length}",
                        code="bad_pss_salt_length",
                        facts={"salt_length": str(pss_salt_length)},
                    )
                pss = padding.PSS(mgf=padding.MGF1(_SHA256), salt_length=pss_salt_length)
            key.verify(signature, data, pss, _SHA256)
        else:
            raise cannot_sign(kind)
    except InvalidSignature:
        raise InvalidSignatureError(
            hint="the data or the signature changed after signing, or another key signed it"
        ) from None
