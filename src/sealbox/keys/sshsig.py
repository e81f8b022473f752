"""Detached signatures in OpenSSH's SSHSIG format (``ssh-keygen -Y sign`` / ``-Y verify``).

Implements PROTOCOL.sshsig (OpenSSH, revision 1.4): the armored form (section 1),
the blob (section 2) and the signed data (section 3)::

    blob        = "SSHSIG" | uint32 1 | string publickey | string namespace
                  | string reserved | string hash_algorithm | string signature
    signed data = "SSHSIG" | string namespace | string reserved
                  | string hash_algorithm | string H(message)

The message is hashed with SHA-512 in 1 MiB pieces, so a file of any size takes
constant memory. The signature inside uses the key's SSH algorithm:
``ssh-ed25519`` (RFC 8709), ``rsa-sha2-512`` (RFC 8332; ``rsa-sha2-256`` is also
accepted, SHA-1 ``ssh-rsa`` is not) or ``ecdsa-sha2-nistp256`` (RFC 5656).

Verification trusts either one public key or an allowed-signers file
(:class:`AllowedSigners`, ssh-keygen(1) "ALLOWED SIGNERS"). The policy checks
(namespace, key, principal) come before the hash, so a refused signature costs
nothing, and they raise :class:`~sealbox.exceptions.SignerNotAllowedError` with
the reason; a signature that does not match the data raises
:class:`~sealbox.exceptions.InvalidSignatureError` with one fixed message.

Example::

    >>> from sealbox.keys.asymmetric import PrivateKey
    >>> key = PrivateKey.generate("ed25519")
    >>> sig = sign(key, b"release notes", namespace="file")
    >>> verify(sig.armor(), b"release notes", namespace="file", public_key=key.public_key)
    Verified(...)

The format is in :mod:`~sealbox.keys.sshsig_format` and allowed-signers files in
:mod:`~sealbox.keys.allowed_signers`; their public names import from here too.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from sealbox.exceptions import (
    FormatError,
    InvalidSignatureError,
    SignerNotAllowedError,
    UnsupportedAlgorithmError,
)
from sealbox.keys import sshwire as _sshwire
from sealbox.keys.allowed_signers import MAX_ALLOWED_SIGNERS_FILE, AllowedSigner, AllowedSigners
from sealbox.keys.asymmetric import KeyType, PrivateKey, PublicKey
from sealbox.keys.sshsig_format import (
    ARMOR_BEGIN,
    ARMOR_END,
    HASH_ALGORITHM,
    MAGIC,
    MAX_SIGNATURE_FILE,
    VERSION,
    SSHSignature,
    check_namespace,
    digest,
    signed_data,
)

__all__ = [
    "ARMOR_BEGIN",
    "ARMOR_END",
    "HASH_ALGORITHM",
    "MAGIC",
    "MAX_ALLOWED_SIGNERS_FILE",
    "MAX_SIGNATURE_FILE",
    "VERSION",
    "AllowedSigner",
    "AllowedSigners",
    "SSHSignature",
    "Verified",
    "check_namespace",
    "digest",
    "sign",
    "verify",
]

_RSA_HASH: Final = {"rsa-sha2-512": hashes.SHA512(), "rsa-sha2-256": hashes.SHA256()}
_ECDSA: Final = ec.ECDSA(hashes.SHA256())


def sign(
    key: PrivateKey,
    data: bytes | BinaryIO,
    *,
    namespace: str,
) -> SSHSignature:
    """Sign bytes or a binary file object (hashed in 1 MiB pieces) in SSHSIG format.

    Args:
        key: an Ed25519, RSA (``rsa-sha2-512``) or ECDSA P-256 key.
        data: the message, or a file object opened in binary mode.
        namespace: the domain of the signature (``file``, ``git``, an application
            name); verification must name the same one.

    Raises:
        UnsupportedAlgorithmError: an X25519 key.
        ConfigError: a namespace that is empty or not one line of printable text
            (code ``bad_namespace``).
    """
    check_namespace(namespace)
    public = key.public_key
    if public.key_type is KeyType.X25519:
        raise UnsupportedAlgorithmError(
            "x25519 keys cannot sign", hint="use an ed25519, ecdsa-p256 or rsa key to sign"
        )
    signed = signed_data(namespace, b"", HASH_ALGORITHM, digest(data, HASH_ALGORITHM))
    pyca = key.expose_private_key()
    if isinstance(pyca, ed25519.Ed25519PrivateKey):
        algorithm, raw = "ssh-ed25519", pyca.sign(signed)
    elif isinstance(pyca, rsa.RSAPrivateKey):
        algorithm = "rsa-sha2-512"
        raw = pyca.sign(signed, padding.PKCS1v15(), _RSA_HASH[algorithm])
    else:
        assert isinstance(pyca, ec.EllipticCurvePrivateKey)
        r, s = decode_dss_signature(pyca.sign(signed, _ECDSA))
        algorithm, raw = "ecdsa-sha2-nistp256", _sshwire.mpint(r) + _sshwire.mpint(s)
    return SSHSignature(public, namespace, HASH_ALGORITHM, algorithm, raw)


@dataclass(frozen=True, slots=True)
class Verified:
    """What a successful :func:`verify` established.

    Attributes:
        public_key: the key that signed.
        namespace: the namespace signed for.
        principal: the principal the allowed-signers file accepted, or ``None``
            when one public key was trusted directly.
    """

    public_key: PublicKey
    namespace: str
    principal: str | None = None

    def __repr__(self) -> str:
        return (
            f"Verified(fingerprint={self.public_key.fingerprint()!r}, "
            f"namespace={self.namespace!r}, principal={self.principal!r})"
        )


def verify(
    signature: SSHSignature | bytes | str,
    data: bytes | BinaryIO,
    *,
    namespace: str,
    public_key: PublicKey | None = None,
    allowed_signers: AllowedSigners | None = None,
    principal: str | None = None,
    now: datetime | None = None,
) -> Verified:
    """Verify an SSHSIG signature over bytes or a binary file object.

    Give exactly one source of trust: ``public_key``, or ``allowed_signers``
    with the ``principal`` expected to have signed (``ssh-keygen -Y verify -I``).

    Args:
        signature: a parsed signature or its armored text.
        data: the message, or a file object opened in binary mode.
        namespace: the namespace the signature must have been made for.
        public_key: the one trusted key.
        allowed_signers: the trusted signers.
        principal: who must have signed, looked up in ``allowed_signers``.
        now: the time for ``valid-after``/``valid-before`` (default: now).

    Returns:
        A :class:`Verified` with the signing key, namespace and principal.

    Raises:
        SignerNotAllowedError: another namespace, another key, or a principal or
            key the allowed-signers file does not accept (says which).
        InvalidSignatureError: the signature does not match the data.
        FormatError: the signature text is damaged or truncated.
        UnsupportedAlgorithmError: the signature uses something sealbox does not read.
        ConfigError: ``namespace`` is empty or not one line of printable text (code
            ``bad_namespace``), as :func:`sign` refuses it.
    """
    check_namespace(namespace)
    if (public_key is None) == (allowed_signers is None):
        raise TypeError("give either public_key or allowed_signers (with principal)")
    sig = signature if isinstance(signature, SSHSignature) else SSHSignature.parse(signature)
    fingerprint = sig.public_key.fingerprint()
    if sig.namespace != namespace:
        raise SignerNotAllowedError(
            f"the signature is for namespace {sig.namespace!r}, not {namespace!r}",
            hint=f"if {sig.namespace!r} is what you expect, verify for that namespace",
            code="wrong_namespace",
            facts={"namespace": sig.namespace, "expected": namespace},
        )
    if public_key is not None:
        if sig.public_key != public_key:
            raise SignerNotAllowedError(
                f"the signature was made by key {fingerprint}, not by {public_key.fingerprint()}"
            )
    else:
        assert allowed_signers is not None
        if principal is None:
            raise TypeError("allowed_signers needs the principal expected to have signed")
        allowed_signers.check(principal, sig.public_key, namespace, now=now)
    _check(sig, digest(data, sig.hash_algorithm))
    return Verified(sig.public_key, sig.namespace, principal)


def _check(signature: SSHSignature, message_hash: bytes) -> None:
    """Verify the inner signature over the signed data; InvalidSignatureError if it fails."""
    signed = signed_data(
        signature.namespace, signature.reserved, signature.hash_algorithm, message_hash
    )
    key = signature.public_key.cryptography_key()
    sig = signature.signature
    failed = InvalidSignatureError(hint="the data or the signature changed after signing")
    if isinstance(key, rsa.RSAPublicKey):
        size = (key.key_size + 7) // 8
        if len(sig) > size:
            raise failed
        # RFC 8332 section 3: a shorter value is left-padded with zeros.
        sig = sig.rjust(size, b"\0")
    elif isinstance(key, ec.EllipticCurvePublicKey):
        try:
            r = _sshwire.Reader(sig, "ecdsa signature")
            sig = encode_dss_signature(r.mpint("r"), r.mpint("s"))
            r.done()
        except FormatError:
            raise failed from None
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(sig, signed)
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(sig, signed, padding.PKCS1v15(), _RSA_HASH[signature.algorithm])
        else:
            assert isinstance(key, ec.EllipticCurvePublicKey)
            key.verify(sig, signed, _ECDSA)
    except InvalidSignature:
        raise failed from None
