"""The kinds of public-key material sealbox handles, and the sizes it accepts.

:class:`KeyType` names the four kinds (RSA, Ed25519, X25519, ECDSA P-256);
:func:`classify` tells the kind of a pyca/cryptography key and refuses every other
one (RSA under :data:`RSA_MIN_BITS`, other curves, DSA…) with the same errors wherever
the key came from. The rest of :mod:`sealbox.keys` builds on these.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Final, TypeAlias

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x25519

from sealbox.exceptions import ConfigError, KeyFormatError, UnsupportedAlgorithmError

if TYPE_CHECKING:
    from collections.abc import Callable

    from sealbox.secret import Secret

__all__ = [
    "DISPLAY",
    "RSA_DEFAULT_BITS",
    "RSA_MAX_BITS",
    "RSA_MAX_LOAD_BITS",
    "RSA_MIN_BITS",
    "SSH_NAMES",
    "SSH_TYPES",
    "KeyType",
    "Passphrase",
    "PassphraseSource",
    "PycaPrivate",
    "PycaPublic",
    "classify",
    "parse_type",
]


class KeyType(StrEnum):
    """The key types sealbox handles. ``ecdsa-p256`` is ECDSA on NIST P-256 (secp256r1)."""

    RSA = "rsa"
    ED25519 = "ed25519"
    X25519 = "x25519"
    ECDSA_P256 = "ecdsa-p256"


# RFC 8017 leaves the modulus size to the caller; NIST SP 800-57 part 1 (rev. 5)
# table 2 gives 3072 bits 128-bit security and accepts 2048 bits (112) until 2030.
RSA_DEFAULT_BITS: Final = 3072
RSA_MIN_BITS: Final = 2048
RSA_MAX_BITS: Final = 8192  # generation; 16384-bit keys still load
RSA_MAX_LOAD_BITS: Final = 16384

SSH_NAMES: Final = {
    KeyType.RSA: "ssh-rsa",
    KeyType.ED25519: "ssh-ed25519",
    KeyType.ECDSA_P256: "ecdsa-sha2-nistp256",
}
"""The OpenSSH key type name of each kind (X25519 has none)."""
SSH_TYPES: Final = {v: k for k, v in SSH_NAMES.items()}
# How ssh-keygen -l names each type, in parentheses at the end of its line.
DISPLAY: Final = {
    KeyType.RSA: "RSA",
    KeyType.ED25519: "ED25519",
    KeyType.ECDSA_P256: "ECDSA",
    KeyType.X25519: "X25519",
}

Passphrase: TypeAlias = "str | bytes | Secret[str] | Secret[bytes]"  # noqa: S105 - a type
PassphraseSource: TypeAlias = "Passphrase | Callable[[], Passphrase] | None"
PycaPrivate: TypeAlias = (
    "rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey | x25519.X25519PrivateKey"
    " | ec.EllipticCurvePrivateKey"
)
PycaPublic: TypeAlias = (
    "rsa.RSAPublicKey | ed25519.Ed25519PublicKey | x25519.X25519PublicKey"
    " | ec.EllipticCurvePublicKey"
)


_PRIVATE: Final = (
    rsa.RSAPrivateKey,
    ed25519.Ed25519PrivateKey,
    x25519.X25519PrivateKey,
    ec.EllipticCurvePrivateKey,
)
_PUBLIC: Final = (
    rsa.RSAPublicKey,
    ed25519.Ed25519PublicKey,
    x25519.X25519PublicKey,
    ec.EllipticCurvePublicKey,
)


def classify(key: object, what: str, *, private: bool | None = None) -> KeyType:
    """The kind of a pyca key, refusing what sealbox does not handle.

    Args:
        private: require a private key (``True``) or a public one (``False``).

    Raises:
        UnsupportedAlgorithmError: another key type, another curve, or an RSA size
            out of range (code ``rsa_key_too_small`` below :data:`RSA_MIN_BITS`).
        KeyFormatError: a public key where a private one is required (code
            ``public_key_as_private``), or the other way round (``private_key_as_public``).
    """
    if private is True and isinstance(key, _PUBLIC):
        raise KeyFormatError(
            "a public key was given where a private key is needed",
            hint="give the private key",
            code="public_key_as_private",
        )
    if private is False and isinstance(key, _PRIVATE):
        raise KeyFormatError(
            "a private key was given where a public key is needed",
            hint="give its public key",
            code="private_key_as_public",
        )
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        bits = key.key_size
        if bits < RSA_MIN_BITS:
            raise UnsupportedAlgorithmError(
                f"{what} is a {bits}-bit RSA key, too small: sealbox accepts "
                f"{RSA_MIN_BITS} bits or more",
                hint=f"use a new RSA key ({RSA_DEFAULT_BITS} bits) or an Ed25519 key",
                code="rsa_key_too_small",
                facts={"bits": str(bits), "default_bits": str(RSA_DEFAULT_BITS)},
            )
        if bits > RSA_MAX_LOAD_BITS:
            raise UnsupportedAlgorithmError(
                f"{what} is a {bits}-bit RSA key; sealbox accepts at most {RSA_MAX_LOAD_BITS}"
            )
        return KeyType.RSA
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return KeyType.ED25519
    if isinstance(key, x25519.X25519PrivateKey | x25519.X25519PublicKey):
        return KeyType.X25519
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if isinstance(key.curve, ec.SECP256R1):
            return KeyType.ECDSA_P256
        raise UnsupportedAlgorithmError(
            f"{what} is an ECDSA key on {key.curve.name}: sealbox supports P-256 (secp256r1) only"
        )
    name = type(key).__name__.removeprefix("_").replace("PrivateKey", "").replace("PublicKey", "")
    # The article as the name is said aloud: "an Ed448", "an X448", "a DSA".
    kind = f"{'an' if name[:1] in 'AEFHILMNORSX' else 'a'} {name} key" if name else "a key"
    raise UnsupportedAlgorithmError(
        f"{what} is {kind}: sealbox supports rsa, ed25519, x25519 and ecdsa-p256 keys"
    )


def parse_type(key_type: KeyType | str) -> KeyType:
    """A :class:`KeyType` from its name (``ecdsa`` is accepted for ``ecdsa-p256``).

    Raises:
        ConfigError: an unknown name.
    """
    if key_type == "ecdsa":
        return KeyType.ECDSA_P256
    try:
        return KeyType(key_type)
    except ValueError:
        raise ConfigError(
            f"unknown key type {key_type!r}: choose one of rsa, ed25519, x25519, ecdsa-p256"
        ) from None
