"""Public-key cryptography: RSA, Ed25519, X25519 and ECDSA P-256 keys.

:class:`PrivateKey` and :class:`PublicKey` wrap pyca/cryptography keys with pinned
algorithms and sealbox's errors:

==============  ==========================================  ===========================
key type        signatures (:meth:`PrivateKey.sign`)        encryption
==============  ==========================================  ===========================
``rsa``         RSASSA-PSS, SHA-256, MGF1-SHA-256, 32-byte  RSAES-OAEP, SHA-256,
                salt (RFC 8017 section 8.1)                 MGF1-SHA-256 (section 7.1);
                                                            hybrid (age ``ssh-rsa``)
``ed25519``     Ed25519 (RFC 8032 section 5.1)              hybrid (age ``ssh-ed25519``)
``ecdsa-p256``  ECDSA P-256 with SHA-256, DER (FIPS 186-5)  none
``x25519``      none                                        hybrid (age ``X25519``);
                                                            key agreement (RFC 7748)
==============  ==========================================  ===========================

Hybrid encryption (:func:`encrypt_hybrid`, :func:`decrypt_hybrid`) is the age v1
format of :mod:`sealbox.age`: a random file key encrypts data of any size and each
recipient key wraps only that file key. :meth:`PublicKey.age_recipient` and
:meth:`PrivateKey.age_identity` convert keys for age's streaming file API.

Key files:

* private keys as OpenSSH (PEM label ``OPENSSH PRIVATE KEY``, bcrypt KDF
  with :data:`OPENSSH_BCRYPT_ROUNDS` rounds and AES-256-CTR, PROTOCOL.key) or
  PKCS#8 PEM (RFC 5958; encrypted with PBES2 = scrypt N=2^14, r=8, p=5 and
  AES-256-CBC, see :data:`PKCS8_SCRYPT`);
* public keys as OpenSSH lines (``ssh-ed25519 AAAA… comment``, RFC 4253
  section 6.6) or PEM ``SubjectPublicKeyInfo`` (RFC 5280 section 4.1);
* fingerprints as ``ssh-keygen -l`` prints them (``SHA256:`` and unpadded
  base64 of the SHA-256 of the SSH public key blob).

Loading accepts those and what ``ssh-keygen`` and ``openssl`` write (PKCS#1 and
SEC 1 PEM, PBES2/PBKDF2 PKCS#8, legacy encrypted PEM), encrypted or not. RSA keys
under 2,048 bits, other curves and other key types are refused with
:class:`~sealbox.exceptions.UnsupportedAlgorithmError`.

Secrets never show: a private key's ``repr`` is its type and public fingerprint,
it cannot be pickled, and its material leaves only through
:meth:`PrivateKey.export_private`, :meth:`PrivateKey.save` and
:meth:`PrivateKey.expose_private_key`.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final, Literal, NoReturn, TypeAlias

from cryptography.exceptions import InvalidSignature
from cryptography.exceptions import UnsupportedAlgorithm as _PycaUnsupported
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, x25519

from sealbox._util import pem as _pem
from sealbox._util.files import atomic_write, read_limited
from sealbox.exceptions import (
    ConfigError,
    DecryptionError,
    ExtraNotInstalledError,
    FormatError,
    InvalidSignatureError,
    KeyFormatError,
    UnsupportedAlgorithmError,
)
from sealbox.hazmat import kdf
from sealbox.keys import pkcs8 as _pkcs8
from sealbox.keys import sshwire as _sshwire
from sealbox.secret import Secret

if TYPE_CHECKING:
    from sealbox.age import Identity as AgeIdentity
    from sealbox.age import Recipient as AgeRecipient

__all__ = [
    "MAX_KEY_FILE_SIZE",
    "OPENSSH_BCRYPT_MAX_ROUNDS",
    "OPENSSH_BCRYPT_ROUNDS",
    "PKCS8_SCRYPT",
    "PSS_SALT_LENGTH",
    "RSA_DEFAULT_BITS",
    "RSA_MAX_BITS",
    "RSA_MIN_BITS",
    "KeyFileFormat",
    "KeyType",
    "Passphrase",
    "PassphraseSource",
    "PrivateKey",
    "PublicKey",
    "decrypt_hybrid",
    "encrypt_hybrid",
    "oaep_max_plaintext",
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
_RSA_MAX_LOAD_BITS: Final = 16384
_RSA_EXPONENT: Final = 65537

# ssh-keygen's default is 16 rounds; 32 is about 0.24 s here, the work of a bcrypt
# password hash at cost 12, and about the cost of the PKCS#8 setting below.
OPENSSH_BCRYPT_ROUNDS: Final = 32
# The most rounds a key file may ask for when read (about 8 s here).
OPENSSH_BCRYPT_MAX_ROUNDS: Final = 1024
PKCS8_SCRYPT: Final = _pkcs8.SCRYPT_DEFAULT
# The salt length of RFC 8446 section 4.2.3 and of JWS PS256: the digest length.
PSS_SALT_LENGTH: Final = 32
MAX_KEY_FILE_SIZE: Final = 256 * 1024

KeyFileFormat: TypeAlias = Literal["openssh", "pem"]
Passphrase: TypeAlias = "str | bytes | Secret[str] | Secret[bytes]"  # noqa: S105 - a type
PassphraseSource: TypeAlias = "Passphrase | Callable[[], Passphrase] | None"

_SSH_NAMES: Final = {
    KeyType.RSA: "ssh-rsa",
    KeyType.ED25519: "ssh-ed25519",
    KeyType.ECDSA_P256: "ecdsa-sha2-nistp256",
}
_SSH_TYPES: Final = {v: k for k, v in _SSH_NAMES.items()}
# How ssh-keygen -l names each type, in parentheses at the end of its line.
_DISPLAY: Final = {
    KeyType.RSA: "RSA",
    KeyType.ED25519: "ED25519",
    KeyType.ECDSA_P256: "ECDSA",
    KeyType.X25519: "X25519",
}
_OPENSSH_MAGIC: Final = b"openssh-key-v1\x00"
_PRIVATE_LABELS: Final = frozenset(
    {"PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"}
)
_PUBLIC_LABELS: Final = frozenset({"PUBLIC KEY", "RSA PUBLIC KEY"})

_SHA256: Final = hashes.SHA256()
_PSS: Final = padding.PSS(mgf=padding.MGF1(_SHA256), salt_length=PSS_SALT_LENGTH)
_OAEP: Final = padding.OAEP(mgf=padding.MGF1(_SHA256), algorithm=_SHA256, label=None)
_ECDSA: Final = ec.ECDSA(_SHA256)

_PycaPrivate: TypeAlias = (
    "rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey | x25519.X25519PrivateKey"
    " | ec.EllipticCurvePrivateKey"
)
_PycaPublic: TypeAlias = (
    "rsa.RSAPublicKey | ed25519.Ed25519PublicKey | x25519.X25519PublicKey"
    " | ec.EllipticCurvePublicKey"
)


def _key_type(key: object, what: str) -> KeyType:
    """Classify a pyca key, refusing what sealbox does not handle."""
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
        if bits > _RSA_MAX_LOAD_BITS:
            raise UnsupportedAlgorithmError(
                f"{what} is a {bits}-bit RSA key; sealbox accepts at most {_RSA_MAX_LOAD_BITS}"
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
    raise UnsupportedAlgorithmError(
        f"{what} is a {name or 'unknown'} key: sealbox supports rsa, ed25519, x25519 and "
        "ecdsa-p256 keys"
    )


def _parse_type(key_type: KeyType | str) -> KeyType:
    if key_type == "ecdsa":
        return KeyType.ECDSA_P256
    try:
        return KeyType(key_type)
    except ValueError:
        raise ConfigError(
            f"unknown key type {key_type!r}: choose one of rsa, ed25519, x25519, ecdsa-p256"
        ) from None


def _passphrase(source: PassphraseSource, what: str) -> bytes:
    """Resolve a passphrase (calling it if it is a callable) to bytes."""
    if source is None:
        raise DecryptionError(
            f"{what} is encrypted and no passphrase was given",
            hint="pass the passphrase",
            code="passphrase_needed",
        )
    value = source() if callable(source) else source
    return kdf.passphrase_bytes(value)


def _wrong_passphrase(what: str) -> DecryptionError:
    return DecryptionError(
        f"cannot decrypt {what}: wrong passphrase, or the file was altered",
    )


def _need_bcrypt() -> None:
    try:
        import bcrypt  # noqa: F401  (pyca imports it for the OpenSSH KDF)
    except ImportError:
        raise ExtraNotInstalledError("ssh", "bcrypt") from None


class PublicKey:
    """A public key: verify signatures, encrypt small payloads (RSA), write key files.

    Construct with :meth:`from_bytes`, :meth:`load`, :meth:`from_raw` or
    :meth:`from_cryptography`, or take :attr:`PrivateKey.public_key`. Public keys
    compare equal when the key is the same (the comment is not part of it).

    Attributes:
        comment: the comment of an OpenSSH line (``user@host``); empty if none.
    """

    __slots__ = ("_key", "_spki", "_type", "comment")

    _key: _PycaPublic
    _type: KeyType
    _spki: bytes

    def __init__(self, key: _PycaPublic, *, comment: str = "", _what: str = "public key") -> None:
        self._type = _key_type(key, _what)
        self._key = key
        self._spki = key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.comment = comment

    # --- constructors -----------------------------------------------------------------

    @classmethod
    def from_cryptography(cls, key: Any, *, comment: str = "") -> PublicKey:
        """Wrap a pyca/cryptography public key.

        Raises:
            UnsupportedAlgorithmError: a key type, curve or size sealbox does not handle.
        """
        return cls(key, comment=comment)

    @classmethod
    def from_raw(cls, key_type: KeyType | str, data: bytes) -> PublicKey:
        """Build an Ed25519 or X25519 public key from its 32 raw bytes (RFC 8032, RFC 7748).

        Raises:
            ConfigError: another key type.
            KeyFormatError: not 32 bytes, or not a valid point.
        """
        kind = _parse_type(key_type)
        try:
            if kind is KeyType.ED25519:
                return cls(ed25519.Ed25519PublicKey.from_public_bytes(data))
            if kind is KeyType.X25519:
                return cls(x25519.X25519PublicKey.from_public_bytes(data))
        except ValueError:
            raise KeyFormatError(f"not a valid raw {kind} public key") from None
        raise ConfigError("raw public keys exist for ed25519 and x25519 only")

    @classmethod
    def from_ssh_blob(cls, blob: bytes, *, what: str = "public key") -> PublicKey:
        """Parse the SSH wire encoding of a public key (RFC 4253 section 6.6, RFC 5656).

        Raises:
            KeyFormatError: the blob is malformed.
            UnsupportedAlgorithmError: a key type sealbox does not handle.
        """
        name = _sshwire.Reader(blob, what).string("key type")
        line = name + b" " + base64.b64encode(blob)
        return cls._from_ssh_line(line, name.decode("ascii", "replace"), "", what)

    @classmethod
    def from_bytes(
        cls,
        data: bytes | str,
        *,
        passphrase: PassphraseSource = None,
        what: str = "the key data",
    ) -> PublicKey:
        """Read a public key from any key file sealbox understands.

        Accepts an OpenSSH public key line, a PEM ``PUBLIC KEY`` or ``RSA PUBLIC
        KEY``, or a private key: an OpenSSH private key gives its public half
        without a passphrase (it is stored in the clear); a PEM private key is
        decrypted first if it is encrypted.

        Args:
            data: the file's content.
            passphrase: used only for an encrypted PEM private key; a callable is
                called only then.
            what: names the input in error messages (a path, say).

        Raises:
            KeyFormatError: not a key, or a damaged one.
            UnsupportedAlgorithmError: a key type, curve or size sealbox does not handle.
            DecryptionError: an encrypted private key and a wrong or missing passphrase.
        """
        raw = data.encode() if isinstance(data, str) else bytes(data)
        if _OPENSSH_MAGIC_PEM in raw:
            return _OpenSSHPrivate.parse(raw, what).public
        block = _pem.first_block(raw, what)
        if block is not None:
            if block.label in _PUBLIC_LABELS:
                try:
                    key = serialization.load_der_public_key(block.der)
                except (ValueError, _PycaUnsupported) as exc:
                    raise _pyca_key_error(exc, what, "public key") from None
                return cls(key, _what=what)  # type: ignore[arg-type]
            if block.label in _PRIVATE_LABELS:
                return PrivateKey.from_bytes(raw, passphrase, what=what).public_key
            raise _not_a_key(what, block.label)
        for line in raw.decode("utf-8", "replace").splitlines():
            fields = line.split(None, 2)
            if not fields or fields[0].startswith("#"):
                continue
            if len(fields) < 2:
                raise KeyFormatError(f"{what} is not a key: expected a key type and base64 key")
            comment = fields[2].strip() if len(fields) > 2 else ""
            text = (fields[0] + " " + fields[1]).encode()
            return cls._from_ssh_line(text, fields[0], comment, what)
        raise _not_a_key(what, None)

    @classmethod
    def _from_ssh_line(cls, line: bytes, name: str, comment: str, what: str) -> PublicKey:
        if name not in _SSH_TYPES:
            if name.endswith("-cert-v01@openssh.com"):
                raise UnsupportedAlgorithmError(
                    f"{what} is an OpenSSH certificate ({name}): sealbox uses plain keys"
                )
            if name.startswith(("ssh-", "ecdsa-", "sk-", "rsa-")):
                raise UnsupportedAlgorithmError(
                    f"{what} is an {name} key: sealbox supports ssh-ed25519, ssh-rsa and "
                    "ecdsa-sha2-nistp256"
                )
            raise _not_a_key(what, None)
        try:
            key = serialization.load_ssh_public_key(line)
        except (ValueError, _PycaUnsupported) as exc:
            raise _pyca_key_error(exc, what, f"{name} public key") from None
        return cls(key, comment=comment, _what=what)  # type: ignore[arg-type]

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, passphrase: PassphraseSource = None
    ) -> PublicKey:
        """Read a public key from a file (see :meth:`from_bytes` for what is accepted).

        Raises:
            StorageError: the file is missing, unreadable or larger than 256 KiB.
        """
        data = read_limited(path, MAX_KEY_FILE_SIZE, "key file")
        return cls.from_bytes(data, passphrase=passphrase, what=f"key file {path}")

    # --- properties -------------------------------------------------------------------

    @property
    def key_type(self) -> KeyType:
        """The key type."""
        return self._type

    @property
    def bits(self) -> int:
        """The key size in bits (the RSA modulus; 256 for the others)."""
        return self._key.key_size if isinstance(self._key, rsa.RSAPublicKey) else 256

    @property
    def type_label(self) -> str:
        """The type as ``ssh-keygen -l`` shows it: ``RSA``, ``ED25519``, ``ECDSA``, ``X25519``."""
        return _DISPLAY[self._type]

    @property
    def ssh_name(self) -> str:
        """The OpenSSH key type name (``ssh-ed25519``…).

        Raises:
            UnsupportedAlgorithmError: X25519 keys have no OpenSSH form.
        """
        name = _SSH_NAMES.get(self._type)
        if name is None:
            raise UnsupportedAlgorithmError(
                "x25519 keys have no OpenSSH form", hint="use the PEM format for x25519 keys"
            )
        return name

    def ssh_blob(self) -> bytes:
        """The SSH wire encoding of the key (RFC 4253 section 6.6).

        Raises:
            UnsupportedAlgorithmError: X25519 keys have no OpenSSH form.
        """
        self.ssh_name  # noqa: B018 - raises for x25519
        line = self._key.public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
        return base64.b64decode(line.split()[1])

    def raw(self) -> bytes:
        """The 32 raw bytes of an Ed25519 or X25519 key.

        Raises:
            UnsupportedAlgorithmError: an RSA or ECDSA key.
        """
        if isinstance(self._key, ed25519.Ed25519PublicKey | x25519.X25519PublicKey):
            return self._key.public_bytes_raw()
        raise UnsupportedAlgorithmError(f"{self._type} keys have no raw form")

    def fingerprint(self) -> str:
        """The SHA-256 fingerprint, ``SHA256:`` + unpadded base64, as ``ssh-keygen -l``.

        For X25519 keys, which OpenSSH does not know, it is taken over the DER
        ``SubjectPublicKeyInfo`` instead of the SSH blob (the hash ``openssl pkey
        -pubout -outform DER | sha256sum`` gives).
        """
        if self._type is KeyType.X25519:
            return _sshwire.fingerprint_sha256(self._spki)
        return _sshwire.fingerprint_sha256(self.ssh_blob())

    def fingerprint_line(self) -> str:
        """The line ``ssh-keygen -l`` prints: bits, fingerprint, comment, type."""
        comment = self.comment or "no comment"
        return f"{self.bits} {self.fingerprint()} {comment} ({self.type_label})"

    def openssh(self) -> str:
        """The OpenSSH public key line (``ssh-ed25519 AAAA… comment``), no newline.

        Raises:
            UnsupportedAlgorithmError: X25519 keys have no OpenSSH form.
        """
        line = f"{self.ssh_name} {base64.b64encode(self.ssh_blob()).decode()}"
        return f"{line} {self.comment}" if self.comment else line

    def pem(self) -> bytes:
        """The PEM ``SubjectPublicKeyInfo`` (``-----BEGIN PUBLIC KEY-----``)."""
        return _pem.encode("PUBLIC KEY", self._spki)

    def public_bytes(self, format: KeyFileFormat = "openssh") -> bytes:  # noqa: A002 - the word
        """The content of a public key file in ``format`` (OpenSSH line or PEM)."""
        if format == "openssh":
            return (self.openssh() + "\n").encode()
        if format == "pem":
            return self.pem()
        raise ConfigError(f"unknown key file format {format!r}: choose openssh or pem")

    def save(
        self,
        path: str | os.PathLike[str],
        *,
        format: KeyFileFormat = "openssh",  # noqa: A002 - the word
        overwrite: bool = False,
    ) -> None:
        """Write the public key file atomically, mode 0644.

        Raises:
            StorageError: ``path`` exists and ``overwrite`` is false, or cannot be written.
        """
        atomic_write(path, self.public_bytes(format), mode=0o644, overwrite=overwrite)

    def cryptography_key(self) -> _PycaPublic:
        """The pyca/cryptography public key object."""
        return self._key

    def age_recipient(self) -> AgeRecipient:
        """This key as an age recipient (age-encryption.org/v1), for hybrid encryption.

        ``ed25519`` gives an ``ssh-ed25519`` recipient, ``rsa`` an ``ssh-rsa`` one
        (RSA-OAEP-SHA256 of the file key) and ``x25519`` an ``X25519`` one
        (``age1…``): the same stanzas the ``age`` tool writes for these keys.

        Raises:
            UnsupportedAlgorithmError: an ECDSA key (age has no ECDSA recipient type).
        """
        from sealbox import age

        key = self._key
        if isinstance(key, x25519.X25519PublicKey):
            return age.X25519Recipient(key.public_bytes_raw())
        if isinstance(key, ed25519.Ed25519PublicKey):
            return age.SSHEd25519Recipient(key)
        if isinstance(key, rsa.RSAPublicKey):
            return age.SSHRSARecipient(key)
        raise UnsupportedAlgorithmError(
            f"{self._type} keys cannot be encryption recipients: age has no such type",
            hint="encrypt to an x25519, ed25519 or rsa key",
        )

    # --- operations -------------------------------------------------------------------

    def verify(self, signature: bytes, data: bytes, *, pss_salt_length: int | None = None) -> None:
        """Check a signature made by :meth:`PrivateKey.sign` over ``data``.

        Args:
            signature: the signature (ECDSA: DER; Ed25519: 64 bytes; RSA: modulus size).
            data: the signed bytes.
            pss_salt_length: RSA only: the PSS salt length to require, 32 by default.
                Signatures of the classic pyca recipe (``PSS.MAX_LENGTH``) need
                ``key.bits // 8 - 34``. The length is always checked exactly: a
                verifier that accepts any salt length accepts signatures that
                Wycheproof marks invalid.

        Raises:
            InvalidSignatureError: the signature does not verify (one fixed message).
            UnsupportedAlgorithmError: X25519 keys do not sign.
        """
        key = self._key
        try:
            if isinstance(key, ed25519.Ed25519PublicKey):
                key.verify(signature, data)
            elif isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(signature, data, _ECDSA)
            elif isinstance(key, rsa.RSAPublicKey):
                pss = _PSS
                if pss_salt_length is not None:
                    pss = padding.PSS(mgf=padding.MGF1(_SHA256), salt_length=pss_salt_length)
                key.verify(signature, data, pss, _SHA256)
            else:
                raise _cannot_sign(self._type)
        except InvalidSignature:
            raise InvalidSignatureError(
                hint="the data or the signature changed after signing, or another key signed it"
            ) from None

    def encrypt(self, plaintext: bytes, *, label: bytes = b"") -> bytes:
        """Encrypt a small payload with RSA-OAEP (SHA-256, MGF1-SHA-256; RFC 8017 7.1).

        The payload can be at most ``bits // 8 - 66`` bytes: 190 bytes for a
        2048-bit key, 318 for 3072 bits. Encrypt anything larger with
        :func:`encrypt_hybrid`: any size, to the same key.

        Args:
            plaintext: the bytes to encrypt.
            label: the OAEP label, bound to the ciphertext; decrypting needs the same.

        Raises:
            ConfigError: the payload is too large for the key.
            UnsupportedAlgorithmError: not an RSA key.
        """
        key = self._key
        if not isinstance(key, rsa.RSAPublicKey):
            raise UnsupportedAlgorithmError(
                f"{self._type} keys cannot encrypt directly",
                hint="use hybrid encryption: sealbox.keys.asymmetric.encrypt_hybrid",
            )
        limit = oaep_max_plaintext(key.key_size)
        if len(plaintext) > limit:
            raise ConfigError(
                f"plaintext is {len(plaintext)} bytes; RSA-OAEP-SHA256 with a {key.key_size}-bit"
                f" key encrypts at most {limit}",
                hint="encrypt larger data with hybrid encryption "
                "(sealbox.keys.asymmetric.encrypt_hybrid): any size, to the same key",
            )
        return key.encrypt(plaintext, _oaep(label))

    # --- dunder -----------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PublicKey):
            return NotImplemented
        return self._spki == other._spki

    def __hash__(self) -> int:
        return hash(self._spki)

    def __repr__(self) -> str:
        return f"PublicKey(type={self._type.value!r}, fingerprint={self.fingerprint()!r})"

    def __str__(self) -> str:
        if self._type is KeyType.X25519:
            return self.pem().decode()
        return self.openssh()


def oaep_max_plaintext(bits: int) -> int:
    """The largest RSA-OAEP-SHA256 payload for a modulus of ``bits`` (RFC 8017 7.1.1)."""
    return (bits + 7) // 8 - 2 * 32 - 2


def _oaep(label: bytes) -> padding.OAEP:
    if not label:
        return _OAEP
    return padding.OAEP(mgf=padding.MGF1(_SHA256), algorithm=_SHA256, label=label)


def _cannot_sign(kind: KeyType) -> UnsupportedAlgorithmError:
    return UnsupportedAlgorithmError(
        f"{kind} keys cannot sign", hint="use an ed25519, ecdsa-p256 or rsa key to sign"
    )


def _not_a_key(what: str, label: str | None) -> KeyFormatError:
    if label is not None:
        return KeyFormatError(f"{what} holds a PEM {label!r} block, not a key")
    return KeyFormatError(
        f"{what} is not a key file: expected a PEM or OpenSSH key",
    )


def _pyca_key_error(exc: Exception, what: str, kind: str) -> Exception:
    if isinstance(exc, _PycaUnsupported):
        return UnsupportedAlgorithmError(f"{what}: this kind of {kind} is not supported")
    return KeyFormatError(f"{what} is a damaged {kind}")


class PrivateKey:
    """A private key: sign, decrypt (RSA-OAEP), agree on a secret (X25519), save.

    Construct with :meth:`generate`, :meth:`load`, :meth:`from_bytes`,
    :meth:`from_raw` or :meth:`from_cryptography`.

    Example::

        >>> key = PrivateKey.generate("ed25519")
        >>> signature = key.sign(b"release 1.2.3")
        >>> key.public_key.verify(signature, b"release 1.2.3")

    .. warning:: :meth:`export_private` and :meth:`save` with ``passphrase=None``
       write the key in clear.
    """

    __slots__ = ("_key", "_public", "_sign", "_type")

    _key: _PycaPrivate
    _type: KeyType
    _public: PublicKey
    _sign: Callable[[bytes], bytes]

    def __init__(self, key: _PycaPrivate, *, _what: str = "private key") -> None:
        self._type = _key_type(key, _what)
        self._key = key
        self._public = PublicKey(key.public_key(), _what=_what)
        # Bound once, so sign() costs one Python call on top of pyca's.
        if isinstance(key, rsa.RSAPrivateKey):
            self._sign = lambda data: key.sign(data, _PSS, _SHA256)
        elif isinstance(key, ec.EllipticCurvePrivateKey):
            self._sign = lambda data: key.sign(data, _ECDSA)
        elif isinstance(key, ed25519.Ed25519PrivateKey):
            self._sign = key.sign
        else:
            self._sign = self._no_sign

    # --- constructors -----------------------------------------------------------------

    @classmethod
    def generate(
        cls, key_type: KeyType | str = KeyType.ED25519, *, bits: int | None = None
    ) -> PrivateKey:
        """Generate a new key.

        Args:
            key_type: ``rsa``, ``ed25519`` (default), ``x25519`` or ``ecdsa-p256``
                (``ecdsa`` is accepted for it).
            bits: RSA modulus size, 2048 to 8192; 3072 by default.

        Raises:
            ConfigError: an unknown type, ``bits`` for a non-RSA key, or RSA bits
                out of range.
        """
        kind = _parse_type(key_type)
        if kind is not KeyType.RSA:
            if bits is not None:
                raise ConfigError(f"bits apply to rsa keys only, not {kind}")
            if kind is KeyType.ED25519:
                return cls(ed25519.Ed25519PrivateKey.generate())
            if kind is KeyType.X25519:
                return cls(x25519.X25519PrivateKey.generate())
            return cls(ec.generate_private_key(ec.SECP256R1()))
        bits = RSA_DEFAULT_BITS if bits is None else bits
        if isinstance(bits, bool) or not isinstance(bits, int):
            raise TypeError("bits must be an int")
        if bits < RSA_MIN_BITS:
            raise ConfigError(
                f"RSA keys of {bits} bits are too small: the minimum is {RSA_MIN_BITS}",
                hint=f"use {RSA_DEFAULT_BITS} (the default) or an ed25519 key",
            )
        if bits > RSA_MAX_BITS:
            raise ConfigError(f"RSA keys of {bits} bits are not generated: the maximum is 8192")
        return cls(rsa.generate_private_key(public_exponent=_RSA_EXPONENT, key_size=bits))

    @classmethod
    def from_cryptography(cls, key: Any) -> PrivateKey:
        """Wrap a pyca/cryptography private key.

        Raises:
            UnsupportedAlgorithmError: a key type, curve or size sealbox does not handle.
        """
        return cls(key)

    @classmethod
    def from_raw(cls, key_type: KeyType | str, data: bytes | Secret[bytes]) -> PrivateKey:
        """Build an Ed25519 (RFC 8032 seed) or X25519 (RFC 7748 scalar) key from 32 bytes.

        Raises:
            ConfigError: another key type.
            KeyFormatError: not 32 bytes.
        """
        kind = _parse_type(key_type)
        raw = data.expose_secret() if isinstance(data, Secret) else data
        try:
            if kind is KeyType.ED25519:
                return cls(ed25519.Ed25519PrivateKey.from_private_bytes(raw))
            if kind is KeyType.X25519:
                return cls(x25519.X25519PrivateKey.from_private_bytes(raw))
        except ValueError:
            raise KeyFormatError(f"a raw {kind} private key is 32 bytes") from None
        raise ConfigError("raw private keys exist for ed25519 and x25519 only")

    @classmethod
    def from_bytes(
        cls, data: bytes | str, passphrase: PassphraseSource = None, *, what: str = "the key data"
    ) -> PrivateKey:
        """Read a private key file's content: OpenSSH or PEM (PKCS#8, PKCS#1, SEC 1).

        Args:
            data: the file's content.
            passphrase: for an encrypted key. A callable is called only if the key
                is encrypted, so a caller can prompt lazily.
            what: names the input in error messages (a path, say).

        Raises:
            KeyFormatError: not a private key (a public key, a certificate, garbage),
                or a damaged one, or KDF parameters beyond sealbox's ceiling.
            DecryptionError: encrypted, and the passphrase is missing or wrong.
            UnsupportedAlgorithmError: a key type, curve or size sealbox does not handle.
            ExtraNotInstalledError: an encrypted OpenSSH key without ``bcrypt``.
        """
        raw = data.encode() if isinstance(data, str) else bytes(data)
        if _OPENSSH_MAGIC_PEM in raw:
            return cls(_OpenSSHPrivate.parse(raw, what).decrypt(passphrase), _what=what)
        block = _pem.first_block(raw, what)
        if block is None:
            if raw.lstrip().startswith((b"ssh-", b"ecdsa-sha2-")):
                raise KeyFormatError(
                    f"{what} is a public key, not a private key",
                    hint="give the private key file (without .pub)",
                )
            raise _not_a_key(what, None)
        if block.label in _PUBLIC_LABELS:
            raise KeyFormatError(f"{what} is a public key, not a private key")
        if block.label not in _PRIVATE_LABELS:
            raise _not_a_key(what, block.label)
        encrypted = block.label == "ENCRYPTED PRIVATE KEY" or "ENCRYPTED" in block.headers.get(
            "Proc-Type", ""
        )
        password = None
        if encrypted:
            if block.label == "ENCRYPTED PRIVATE KEY":
                _pkcs8.check_kdf(block.der, what)
            password = _passphrase(passphrase, what)
        try:
            key = serialization.load_pem_private_key(raw, password)
        except _PycaUnsupported:
            raise UnsupportedAlgorithmError(
                f"{what} uses a key type or encryption that is not supported"
            ) from None
        except (ValueError, TypeError):
            if encrypted:
                raise _wrong_passphrase(what) from None
            raise KeyFormatError(f"{what} is a damaged {block.label}") from None
        return cls(key, _what=what)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: str | os.PathLike[str], passphrase: PassphraseSource = None) -> PrivateKey:
        """Read a private key file (see :meth:`from_bytes`).

        Raises:
            StorageError: the file is missing, unreadable or larger than 256 KiB.
        """
        data = read_limited(path, MAX_KEY_FILE_SIZE, "key file")
        return cls.from_bytes(data, passphrase, what=f"key file {path}")

    # --- properties -------------------------------------------------------------------

    @property
    def key_type(self) -> KeyType:
        """The key type."""
        return self._type

    @property
    def bits(self) -> int:
        """The key size in bits."""
        return self._public.bits

    @property
    def public_key(self) -> PublicKey:
        """The public half (without a comment)."""
        return self._public

    # --- operations -------------------------------------------------------------------

    def sign(self, data: bytes) -> bytes:
        """Sign ``data``: RSA-PSS-SHA256 (32-byte salt), Ed25519, or ECDSA P-256 SHA-256 (DER).

        Raises:
            UnsupportedAlgorithmError: X25519 keys do not sign.
        """
        return self._sign(data)

    def _no_sign(self, data: bytes) -> NoReturn:
        raise _cannot_sign(self._type)

    def decrypt(self, ciphertext: bytes, *, label: bytes = b"") -> bytes:
        """Decrypt an RSA-OAEP-SHA256 ciphertext made by :meth:`PublicKey.encrypt`.

        Raises:
            DecryptionError: wrong key, wrong label or altered ciphertext (one message).
            UnsupportedAlgorithmError: not an RSA key.
        """
        key = self._key
        if not isinstance(key, rsa.RSAPrivateKey):
            raise UnsupportedAlgorithmError(f"{self._type} keys cannot decrypt RSA-OAEP")
        try:
            return key.decrypt(ciphertext, _oaep(label))
        except ValueError:
            raise DecryptionError from None

    def exchange(self, peer: PublicKey) -> bytes:
        """X25519 key agreement (RFC 7748 section 6.1): the 32-byte shared secret.

        An all-zero result (the peer sent a low-order point) is refused, as RFC
        7748 section 6.1 allows and age requires.

        Raises:
            KeyFormatError: the peer key is a low-order point.
            UnsupportedAlgorithmError: either key is not X25519.
        """
        key, other = self._key, peer._key
        if not isinstance(key, x25519.X25519PrivateKey) or not isinstance(
            other, x25519.X25519PublicKey
        ):
            raise UnsupportedAlgorithmError("key agreement needs two x25519 keys")
        try:
            shared = key.exchange(other)
        except ValueError:
            raise KeyFormatError("the peer's x25519 key is a low-order point") from None
        if shared == bytes(32):  # pyca refuses it already; kept as the rule's statement
            raise KeyFormatError("the peer's x25519 key is a low-order point")
        return shared

    # --- export -----------------------------------------------------------------------

    def export_private(
        self,
        passphrase: Passphrase | None,
        *,
        format: KeyFileFormat = "openssh",  # noqa: A002 - the word
        bcrypt_rounds: int = OPENSSH_BCRYPT_ROUNDS,
        scrypt: kdf.ScryptParams = PKCS8_SCRYPT,
    ) -> bytes:
        """Return the private key file's content, encrypted under ``passphrase``.

        Args:
            passphrase: the passphrase; ``None`` writes the key **in clear**.
            format: ``openssh`` (bcrypt KDF with ``bcrypt_rounds`` rounds,
                AES-256-CTR; not for x25519 keys) or ``pem`` (PKCS#8; PBES2 with
                scrypt ``scrypt`` and AES-256-CBC).
            bcrypt_rounds: OpenSSH KDF rounds (:data:`OPENSSH_BCRYPT_ROUNDS`).
            scrypt: PKCS#8 scrypt parameters (:data:`PKCS8_SCRYPT`; OpenSSL reads
                only up to N=2^14 with r=8).

        Raises:
            UnsupportedAlgorithmError: ``openssh`` for an x25519 key.
            ConfigError: an unknown format or KDF setting.
            ExtraNotInstalledError: an encrypted OpenSSH key without ``bcrypt``.
        """
        password = None if passphrase is None else kdf.passphrase_bytes(passphrase)
        if password == b"":
            raise ConfigError("the passphrase is empty", hint="pass None to write the key in clear")
        if format == "openssh":
            if self._type is KeyType.X25519:
                raise UnsupportedAlgorithmError(
                    "x25519 keys have no OpenSSH private key format",
                    hint="use the PEM format for x25519 keys",
                )
            encryption: serialization.KeySerializationEncryption
            if password is None:
                encryption = serialization.NoEncryption()
            else:
                if not 1 <= bcrypt_rounds <= OPENSSH_BCRYPT_MAX_ROUNDS:
                    raise ConfigError(f"bcrypt rounds must be 1 to {OPENSSH_BCRYPT_MAX_ROUNDS}")
                _need_bcrypt()
                encryption = (
                    serialization.PrivateFormat.OpenSSH.encryption_builder()
                    .kdf_rounds(bcrypt_rounds)
                    .build(password)
                )
            return self._key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, encryption
            )
        if format == "pem":
            der = self._key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            if password is None:
                return _pem.encode("PRIVATE KEY", der)
            return _pem.encode("ENCRYPTED PRIVATE KEY", _pkcs8.encrypt(der, password, scrypt))
        raise ConfigError(f"unknown key file format {format!r}: choose openssh or pem")

    def save(
        self,
        path: str | os.PathLike[str],
        passphrase: Passphrase | None,
        *,
        format: KeyFileFormat = "openssh",  # noqa: A002 - the word
        overwrite: bool = False,
        bcrypt_rounds: int = OPENSSH_BCRYPT_ROUNDS,
        scrypt: kdf.ScryptParams = PKCS8_SCRYPT,
    ) -> None:
        """Write the private key file atomically with mode 0600 (see :meth:`export_private`).

        Raises:
            StorageError: ``path`` exists and ``overwrite`` is false, or cannot be written.
        """
        data = self.export_private(
            passphrase, format=format, bcrypt_rounds=bcrypt_rounds, scrypt=scrypt
        )
        atomic_write(path, data, mode=0o600, overwrite=overwrite)

    def expose_private_key(self) -> _PycaPrivate:
        """The pyca/cryptography private key object. Every call site can leak it."""
        return self._key

    def age_identity(self) -> AgeIdentity:
        """This key as an age identity, to open what :meth:`PublicKey.age_recipient` sealed.

        Raises:
            UnsupportedAlgorithmError: an ECDSA key (age has no ECDSA recipient type).
        """
        from sealbox import age

        key = self._key
        if isinstance(key, x25519.X25519PrivateKey):
            return age.X25519Identity(key.private_bytes_raw())
        if isinstance(key, ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey):
            # Through age's own loader (its public API), from an in-memory PKCS#8 copy.
            return age.load_ssh_identity(self.export_private(None, format="pem"), name="the key")
        raise UnsupportedAlgorithmError(
            f"{self._type} keys cannot decrypt: age has no such recipient type",
            hint="encrypt to an x25519, ed25519 or rsa key",
        )

    # --- dunder -----------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"PrivateKey(type={self._type.value!r}, fingerprint={self._public.fingerprint()!r})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("PrivateKey cannot be pickled: it would write the key out in clear")

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError("PrivateKey cannot be pickled: it would write the key out in clear")

    def __getstate__(self) -> NoReturn:
        raise TypeError("PrivateKey cannot be pickled: it would write the key out in clear")

    def __copy__(self) -> PrivateKey:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> PrivateKey:
        return self


# --- hybrid encryption (the age v1 format of sealbox.age) -------------------------------


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

    identities = [keys] if isinstance(keys, PrivateKey) else list(keys)
    return age.decrypt(ciphertext, [k.age_identity() for k in identities])


# --- OpenSSH private key files (PROTOCOL.key) ------------------------------------------

_OPENSSH_MAGIC_PEM: Final = _pem.begin_line("OPENSSH PRIVATE KEY")


class _OpenSSHPrivate:
    """The clear parts of an OpenSSH private key file: cipher, KDF, public key."""

    __slots__ = ("cipher", "pem", "public", "rounds", "what")

    def __init__(self, pem: bytes, cipher: str, rounds: int, public: PublicKey, what: str) -> None:
        self.pem = pem
        self.cipher = cipher
        self.rounds = rounds
        self.public = public
        self.what = what

    @classmethod
    def parse(cls, raw: bytes, what: str) -> _OpenSSHPrivate:
        block = _pem.first_block(raw, what)
        if block is None or block.label != "OPENSSH PRIVATE KEY":
            raise KeyFormatError(f"{what} is a damaged OpenSSH private key")
        der = block.der
        if not der.startswith(_OPENSSH_MAGIC):
            raise KeyFormatError(f"{what} is not an openssh-key-v1 private key")
        r = _sshwire.Reader(der[len(_OPENSSH_MAGIC) :], what)
        try:
            cipher = r.string("cipher name").decode("ascii", "replace")
            kdf_name = r.string("kdf name").decode("ascii", "replace")
            kdf_options = r.string("kdf options")
            if r.uint32("key count") != 1:
                raise KeyFormatError(f"{what} holds several keys: sealbox reads one per file")
            blob = r.string("public key")
            private_section = r.string("private keys")
            r.done()
            rounds = 0
            if cipher == "none":
                if kdf_name != "none":
                    raise KeyFormatError(f"{what}: kdf {kdf_name!r} without a cipher")
            else:
                if kdf_name != "bcrypt":
                    raise UnsupportedAlgorithmError(
                        f"{what} is encrypted with the {kdf_name!r} KDF; only bcrypt is supported"
                    )
                opts = _sshwire.Reader(kdf_options, f"{what} kdf options")
                opts.string("salt")
                rounds = opts.uint32("rounds")
                if not 1 <= rounds <= OPENSSH_BCRYPT_MAX_ROUNDS:
                    raise KeyFormatError(
                        f"{what} asks for {rounds} bcrypt rounds; sealbox accepts 1 to "
                        f"{OPENSSH_BCRYPT_MAX_ROUNDS}"
                    )
        except FormatError as exc:
            if isinstance(exc, KeyFormatError):
                raise
            raise KeyFormatError(str(exc)) from None
        public = PublicKey.from_ssh_blob(blob, what=what)
        if cipher == "none":
            public.comment = _clear_comment(private_section, public.key_type)
        return cls(raw, cipher, rounds, public, what)

    def decrypt(self, passphrase: PassphraseSource) -> _PycaPrivate:
        password = None
        if self.cipher != "none":
            _need_bcrypt()
            password = _passphrase(passphrase, self.what)
        try:
            key = serialization.load_ssh_private_key(self.pem, password)
        except _PycaUnsupported:
            raise UnsupportedAlgorithmError(
                f"{self.what} is encrypted with cipher {self.cipher!r}, which is not supported"
            ) from None
        except (ValueError, TypeError):
            if password is not None:
                raise _wrong_passphrase(self.what) from None
            raise KeyFormatError(f"{self.what} is a damaged OpenSSH private key") from None
        return key  # type: ignore[return-value]


def _clear_comment(section: bytes, kind: KeyType) -> str:
    """The comment of an unencrypted OpenSSH private section, or '' if unreadable."""
    r = _sshwire.Reader(section, "private section")
    fields = {KeyType.ED25519: "ss", KeyType.RSA: "mmmmmm", KeyType.ECDSA_P256: "ssm"}[kind]
    try:
        r.uint32("check")
        r.uint32("check")
        r.string("key type")
        for field in fields:
            if field == "s":
                r.string("key field")
            else:
                r.mpint("key field")
        return r.string("comment").decode("utf-8", "replace")
    except FormatError:
        return ""
