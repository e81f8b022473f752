"""Public-key cryptography: RSA, Ed25519, X25519 and ECDSA P-256 keys.

:class:`PrivateKey` and :class:`PublicKey` wrap pyca/cryptography keys with pinned
algorithms and sealbox's errors. ``rsa`` keys sign (RSASSA-PSS) and encrypt (RSAES-OAEP),
both with SHA-256; ``ed25519`` and ``ecdsa-p256`` keys sign; ``x25519`` keys agree on a
secret; ``rsa``, ``ed25519`` and ``x25519`` keys receive hybrid encryption
(:func:`encrypt_hybrid`, the age v1 format). Key files are OpenSSH or PEM/PKCS#8,
encrypted or not; fingerprints are those ``ssh-keygen -l`` prints. RSA keys under 2,048
bits, other curves and other key types are refused with
:class:`~sealbox.exceptions.UnsupportedAlgorithmError`.

The classes call one module per job, where the parameters are written:
:mod:`~sealbox.keys.kinds` (key types and sizes), :mod:`~sealbox.keys.generate`,
:mod:`~sealbox.keys.serialize` (key files, their formats and KDF settings),
:mod:`~sealbox.keys.sign` (RSA-PSS, Ed25519, ECDSA) and :mod:`~sealbox.keys.encrypt`
(RSA-OAEP, X25519, hybrid). Every public name stays importable from here.

Secrets never show: a private key's ``repr`` is its type and public fingerprint,
it cannot be pickled, and its material leaves only through
:meth:`PrivateKey.export_private`, :meth:`PrivateKey.save` and
:meth:`PrivateKey.expose_private_key`.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa, x25519

from sealbox._util import pem as _pem
from sealbox._util.files import atomic_write, read_limited
from sealbox.exceptions import ConfigError, UnsupportedAlgorithmError
from sealbox.hazmat import kdf
from sealbox.keys import encrypt as _encrypt
from sealbox.keys import generate as _generate
from sealbox.keys import serialize as _serialize
from sealbox.keys import sign as _sign
from sealbox.keys import sshwire as _sshwire
from sealbox.keys.encrypt import decrypt_hybrid, encrypt_hybrid, oaep_max_plaintext
from sealbox.keys.kinds import (
    DISPLAY,
    RSA_DEFAULT_BITS,
    RSA_MAX_BITS,
    RSA_MIN_BITS,
    SSH_NAMES,
    KeyType,
    Passphrase,
    PassphraseSource,
    PycaPrivate,
    PycaPublic,
    classify,
    parse_type,
)
from sealbox.keys.serialize import (
    MAX_KEY_FILE_SIZE,
    OPENSSH_BCRYPT_MAX_ROUNDS,
    OPENSSH_BCRYPT_ROUNDS,
    PKCS8_SCRYPT,
    KeyFileFormat,
)
from sealbox.keys.sign import PSS_SALT_LENGTH
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


class PublicKey:
    """A public key: verify signatures, encrypt small payloads (RSA), write key files.

    Construct with :meth:`from_bytes`, :meth:`load`, :meth:`from_raw` or
    :meth:`from_cryptography`, or take :attr:`PrivateKey.public_key`. Public keys
    compare equal when the key is the same (the comment is not part of it).

    Attributes:
        comment: the comment of an OpenSSH line (``user@host``); empty if none.
    """

    __slots__ = ("_key", "_spki", "_type", "comment")

    _key: PycaPublic
    _type: KeyType
    _spki: bytes

    def __init__(self, key: PycaPublic, *, comment: str = "", _what: str = "public key") -> None:
        self._type = classify(key, _what, private=False)
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
        return cls(_generate.public_from_raw(parse_type(key_type), data))

    @classmethod
    def from_ssh_blob(cls, blob: bytes, *, what: str = "public key") -> PublicKey:
        """Parse the SSH wire encoding of a public key (RFC 4253 section 6.6, RFC 5656).

        Raises:
            KeyFormatError: the blob is malformed.
            UnsupportedAlgorithmError: a key type sealbox does not handle.
        """
        return cls(_serialize.public_from_ssh_blob(blob, what), _what=what)

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
        raw = _serialize.key_bytes(data, what)
        key, comment = _serialize.load_public(raw, passphrase, what)
        return cls(key, comment=comment, _what=what)

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
        return DISPLAY[self._type]

    @property
    def ssh_name(self) -> str:
        """The OpenSSH key type name (``ssh-ed25519``…).

        Raises:
            UnsupportedAlgorithmError: X25519 keys have no OpenSSH form.
        """
        name = SSH_NAMES.get(self._type)
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
        return _serialize.ssh_blob(self._key)

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

    def cryptography_key(self) -> PycaPublic:
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
        return _encrypt.age_recipient(self._key, self._type)

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
        _sign.verify(self._key, self._type, signature, data, pss_salt_length=pss_salt_length)

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
        return _encrypt.oaep_encrypt(self._key, self._type, plaintext, label)

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

    _key: PycaPrivate
    _type: KeyType
    _public: PublicKey
    _sign: Callable[[bytes], bytes]

    def __init__(self, key: PycaPrivate, *, _what: str = "private key") -> None:
        self._type = classify(key, _what, private=True)
        self._key = key
        self._public = PublicKey(key.public_key(), _what=_what)
        # Bound once, so sign() costs one Python call on top of pyca's.
        self._sign = _sign.signer(key, self._type)

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
        return cls(_generate.generate_private(parse_type(key_type), bits))

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
        raw = data.expose_secret() if isinstance(data, Secret) else data
        return cls(_generate.private_from_raw(parse_type(key_type), raw))

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
        raw = _serialize.key_bytes(data, what)
        return cls(_serialize.load_private(raw, passphrase, what), _what=what)

    @classmethod
    def load(cls, path: str | os.PathLike[str], passphrase: PassphraseSource = None) -> PrivateKey:
        """Read a private key file (see :meth:`from_bytes`).

        Raises:
            StorageError: the file is missing, unreadable or larger than 256 KiB.
        """
        data = read_limited(path, MAX_KEY_FILE_SIZE, "key file")
        return cls.from_bytes(data, passphrase, what=f"key file {path}")

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

    def sign(self, data: bytes) -> bytes:
        """Sign ``data``: RSA-PSS-SHA256 (32-byte salt), Ed25519, or ECDSA P-256 SHA-256 (DER).

        Raises:
            UnsupportedAlgorithmError: X25519 keys do not sign.
        """
        return self._sign(data)

    def decrypt(self, ciphertext: bytes, *, label: bytes = b"") -> bytes:
        """Decrypt an RSA-OAEP-SHA256 ciphertext made by :meth:`PublicKey.encrypt`.

        Raises:
            DecryptionError: wrong key, wrong label or altered ciphertext (one message).
            UnsupportedAlgorithmError: not an RSA key.
        """
        return _encrypt.oaep_decrypt(self._key, self._type, ciphertext, label)

    def exchange(self, peer: PublicKey) -> bytes:
        """X25519 key agreement (RFC 7748 section 6.1): the 32-byte shared secret.

        An all-zero result (the peer sent a low-order point) is refused, as RFC
        7748 section 6.1 allows and age requires.

        Raises:
            KeyFormatError: the peer key is a low-order point.
            UnsupportedAlgorithmError: either key is not X25519.
        """
        return _encrypt.exchange(self._key, peer.cryptography_key())

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
        return _serialize.export_private(
            self._key,
            self._type,
            passphrase,
            format=format,
            bcrypt_rounds=bcrypt_rounds,
            scrypt=scrypt,
        )

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

    def expose_private_key(self) -> PycaPrivate:
        """The pyca/cryptography private key object. Every call site can leak it."""
        return self._key

    def age_identity(self) -> AgeIdentity:
        """This key as an age identity, to open what :meth:`PublicKey.age_recipient` sealed.

        Raises:
            UnsupportedAlgorithmError: an ECDSA key (age has no ECDSA recipient type).
        """
        pkcs8 = None
        if self._type in (KeyType.ED25519, KeyType.RSA):
            pkcs8 = self.export_private(None, format="pem")
        return _encrypt.age_identity(self._key, self._type, pkcs8)

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
