"""Encryption to public keys: RSA-OAEP, X25519 key agreement, and hybrid encryption.

- RSA-OAEP with SHA-256 and MGF1-SHA-256 (RFC 8017 section 7.1) encrypts payloads of at
  most :func:`oaep_max_plaintext` bytes to an RSA key;
- X25519 key agreement (RFC 7748 section 6.1) gives a shared secret, refusing
  low-order points;
- hybrid encryption (:func:`encrypt_hybrid`, :func:`decrypt_hybrid`) is the age v1
  format of :mod:`sealbox.age`: a random file key encrypts data of any size and each
  recipient key (``ssh-ed25519``, ``ssh-rsa``, ``X25519``) wraps only that file key.
  :func:`age_recipient` and :func:`age_identity` convert keys for age's streaming API.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa, x25519

from sealbox.exceptions import (
    ConfigError,
    DecryptionError,
    KeyFormatError,
    UnsupportedAlgorithmError,
)
from sealbox.keys.kinds import KeyType, PycaPrivate, PycaPublic

if TYPE_CHECKING:
    from sealbox.age import Identity as AgeIdentity
    from sealbox.age import Recipient as AgeRecipient
    from sealbox.keys.asymmetric import PrivateKey, PublicKey

__all__ = [
    "age_identity",
    "age_recipient",
    "decrypt_hybrid",
    "encrypt_hybrid",
    "exchange",
    "oaep_decrypt",
    "oaep_encrypt",
    "oaep_max_plaintext",
]

_SHA256: Final = hashes.SHA256()
_OAEP: Final = padding.OAEP(mgf=padding.MGF1(_SHA256), algorithm=_SHA256, label=None)


# --- RSA-OAEP -------------------------------------------------------------------------------


def oaep_max_plaintext(bits: int) -> int:
    """The largest RSA-OAEP-SHA256 payload for a modulus of ``bits`` (RFC 8017 7.1.1)."""
    return (bits + 7) // 8 - 2 * 32 - 2


def _oaep(label: bytes) -> padding.OAEP:
    if not label:
        return _OAEP
    return padding.OAEP(mgf=padding.MGF1(_SHA256), algorithm=_SHA256, label=label)


def oaep_encrypt(key: PycaPublic, kind: KeyType, plaintext: bytes, label: bytes) -> bytes:
    """Encrypt a small payload to an RSA key with OAEP.

    Raises:
        ConfigError: the payload is too large for the key.
        UnsupportedAlgorithmError: not an RSA key.
    """
    if not isinstance(key, rsa.RSAPublicKey):
        raise UnsupportedAlgorithmError(
            f"{kind} keys cannot encrypt directly",
            hint="use hybrid encryption: sealbox.keys.asymmetric.encrypt_hybrid",
            code="oaep_needs_rsa",
            facts={"key_type": str(kind)},
        )
    limit = oaep_max_plaintext(key.key_size)
    if len(plaintext) > limit:
        raise ConfigError(
            f"plaintext is {len(plaintext)} bytes; RSA-OAEP-SHA256 with a {key.key_size}-bit"
            f" key encrypts at most {limit}",
            hint="encrypt larger data with hybrid encryption "
            "(sealbox.keys.asymmetric.encrypt_hybrid): any size, to the same key",
            code="plaintext_too_large",
            facts={"size": str(len(plaintext)), "limit": str(limit)},
        )
    return key.encrypt(plaintext, _oaep(label))


def oaep_decrypt(key: PycaPrivate, kind: KeyType, ciphertext: bytes, label: bytes) -> bytes:
    """Decrypt an RSA-OAEP-SHA256 ciphertext.

    Raises:
        DecryptionError: wrong key, wrong label or altered ciphertext (one message).
        UnsupportedAlgorithmError: not an RSA key.
    """
    if not isinstance(key, rsa.RSAPrivateKey):
        raise UnsupportedAlgorithmError(
            f"{kind} keys cannot decrypt RSA-OAEP",
            hint="decrypt hybrid ciphertexts with sealbox.keys.asymmetric.decrypt_hybrid",
            code="oaep_needs_rsa",
            facts={"key_type": str(kind)},
        )
    try:
        return key.decrypt(ciphertext, _oaep(label))
    except ValueError:
        raise DecryptionError from None


# --- X25519 ---------------------------------------------------------------------------------


def exchange(key: PycaPrivate, peer: PycaPublic) -> bytes:
    """X25519 key agreement: the 32-byte shared secret.

    Raises:
        KeyFormatError: the peer key is a low-order point.
        UnsupportedAlgorithmError: either key is not X25519.
    """
    if not isinstance(key, x25519.X25519PrivateKey) or not isinstance(peer, x25519.X25519PublicKey):
        raise UnsupportedAlgorithmError("key agreement needs two x25519 keys")
    try:
        shared = key.exchange(peer)
    except ValueError:
        raise KeyFormatError("the peer's x25519 key is a low-order point") from None
    if shared == bytes(32):  # pyca refuses it already; kept as the rule's statement
        raise KeyFormatError("the peer's x25519 key is a low-order point")
    return shared


# --- hybrid encryption (the age v1 format of sealbox.age) -------------------------------------


def age_recipient(key: PycaPublic, kind: KeyType) -> AgeRecipient:
    """A public key as an age recipient (``X25519``, ``ssh-ed25519`` or ``ssh-rsa``).

    Raises:
        UnsupportedAlgorithmError: an ECDSA key (age has no ECDSA recipient type).
    """
    from sealbox import age

    if isinstance(key, x25519.X25519PublicKey):
        return age.X25519Recipient(key.public_bytes_raw())
    if isinstance(key, ed25519.Ed25519PublicKey):
        return age.SSHEd25519Recipient(key)
    if isinstance(key, rsa.RSAPublicKey):
        return age.SSHRSARecipient(key)
    raise UnsupportedAlgorithmError(
        f"{kind} keys cannot be encryption recipients: age has no such type",
        hint="encrypt to an x25519, ed25519 or rsa key",
    )


def age_identity(key: PycaPrivate, kind: KeyType, pkcs8: bytes | None = None) -> AgeIdentity:
    """A private key as an age identity, to open what :func:`age_recipient` sealed.

    ``pkcs8`` is the key's unencrypted PKCS#8 PEM, needed for ed25519 and rsa keys.

    Raises:
        UnsupportedAlgorithmError: an ECDSA key (age has no ECDSA recipient type).
    """
    from sealbox import age

    if isinstance(key, x25519.X25519PrivateKey):
        return age.X25519Identity(key.private_bytes_raw())
    if isinstance(key, ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey):
        assert pkcs8 is not None
        # Through age's own loader (its public API), from an in-memory PKCS#8 copy.
        return age.load_ssh_identity(pkcs8, name="the key")
    raise UnsupportedAlgorithmError(
        f"{kind} keys cannot decrypt: age has no such recipient type",
        hint="encrypt to an x25519, ed25519 or rsa key",
    )


def encrypt_hybrid(
    plaintext: bytes,
    recipients: PublicKey | Iterable[PublicKey],
    *,
    armor: bool = False,
) -> bytes:
    """Encrypt data of any size to one or more public keys (ed25519, rsa, x25519).

    The result is an age v1 file (age-encryption.org/v1): a random 128-bit file
    key encrypts the data in 64 KiB ChaCha20-Poly1305 chunks, and each recipient
    key wraps the file key (``ssh-ed25519``, ``ssh-rsa`` with RSA-OAEP-SHA256, or
    ``X25519``). The ``age`` tool decrypts it with the matching private key file.
    This works in memory; for files use :func:`sealbox.age.encrypt_file` with
    :meth:`PublicKey.age_recipient`, which streams in constant memory.

    Args:
        plaintext: the data.
        recipients: one key or several (any one of them can decrypt).
        armor: return the ASCII-armored form (``-----BEGIN AGE ENCRYPTED FILE-----``).

    Raises:
        UnsupportedAlgorithmError: an ECDSA key among the recipients.
        ConfigError: no recipient.
    """
    from sealbox import age
    from sealbox.keys.asymmetric import PublicKey

    keys = [recipients] if isinstance(recipients, PublicKey) else list(recipients)
    return age.encrypt(plaintext, [k.age_recipient() for k in keys], armor=armor)


def decrypt_hybrid(ciphertext: bytes, keys: PrivateKey | Iterable[PrivateKey]) -> bytes:
    """Decrypt what :func:`encrypt_hybrid` (or ``age`` to these keys) produced.

    Raises:
        NoIdentityMatchError: none of ``keys`` is a recipient of the file.
        DecryptionError: the file was altered or truncated (one message).
        FormatError: not an age file.
    """
    from sealbox import age
    from sealbox.keys.asymmetric import PrivateKey

    identities = [keys] if isinstance(keys, PrivateKey) else list(keys)
    return age.decrypt(ciphertext, [k.age_identity() for k in identities])
