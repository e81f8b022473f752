"""The ssh-ed25519 and ssh-rsa recipient types (age's SSH support, as in agessh).

Recipients are OpenSSH public key lines (``ssh-ed25519 AAAA…``,
``ssh-rsa AAAA…``); identities are OpenSSH private key files, encrypted ones
included, and PEM RSA/PKCS#8 keys. Both stanzas carry a tag, the first 4 bytes
of SHA-256 of the public key in SSH wire form, so that an identity can skip
stanzas that are not for it without trying them.

``ssh-rsa``: ``-> ssh-rsa <tag>``; the body is RSA-OAEP (SHA-256, MGF1-SHA-256,
label ``"age-encryption.org/v1/ssh-rsa"``) of the file key. Keys under 2048 bits
are refused.

``ssh-ed25519``: ``-> ssh-ed25519 <tag> <ephemeral share>``; the Ed25519 key is
used as the X25519 key of the same curve (public: the Edwards y coordinate mapped
to Montgomery u = (1 + y) / (1 - y); private: the first 32 bytes of SHA-512 of
the seed, as Ed25519 itself derives its scalar). The X25519 shared secret is
then multiplied by a tweak, ``HKDF-SHA-256(ikm=empty, salt=ssh key,
info="age-encryption.org/v1/ssh-ed25519")``, before the wrap key is derived
as in the X25519 type with that label.

An encrypted OpenSSH key asks for its passphrase only when a file holds a
stanza with its tag (its public half is readable without it).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct
from collections.abc import Callable
from typing import Any, ClassVar, Final, NoReturn, TypeAlias

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from sealbox._util.pem import begin_line
from sealbox.age._base import same_bytes
from sealbox.age._crypto import WRAPPED_KEY_SIZE, hkdf, open_file_key, seal_file_key
from sealbox.age.format import Stanza, b64decode, b64encode
from sealbox.age.x25519 import exchange, refuse_low_order
from sealbox.exceptions import (
    ConfigError,
    DecryptionError,
    ExtraNotInstalledError,
    FormatError,
    KeyFormatError,
    UnsupportedAlgorithmError,
)
from sealbox.secret import Secret

__all__ = [
    "ED25519_LABEL",
    "RSA_LABEL",
    "SSHEd25519Identity",
    "SSHEd25519Recipient",
    "SSHRSAIdentity",
    "SSHRSARecipient",
    "load_ssh_identity",
    "parse_ssh_recipient",
]

ED25519_LABEL: Final = b"age-encryption.org/v1/ssh-ed25519"
RSA_LABEL: Final = b"age-encryption.org/v1/ssh-rsa"
ED25519_TYPE: Final = "ssh-ed25519"
RSA_TYPE: Final = "ssh-rsa"
MIN_RSA_BITS: Final = 2048
TAG_SIZE: Final = 4
_P: Final = 2**255 - 19
_OPENSSH_MAGIC: Final = b"openssh-key-v1\x00"

# The passphrase, or a function called for it only when it is needed.
Passphrase: TypeAlias = "Callable[[], str | bytes | Secret[Any]] | str | bytes | Secret[Any]"  # noqa: S105


def _tag(wire: bytes) -> str:
    return b64encode(hashlib.sha256(wire).digest()[:TAG_SIZE])


def _ed25519_to_x25519_public(public: bytes) -> bytes:
    """Map an Ed25519 public key (Edwards y) to its X25519 form (Montgomery u)."""
    y = int.from_bytes(public, "little") & ((1 << 255) - 1)
    if y >= _P or y == 1:
        raise KeyFormatError("invalid Ed25519 public key")
    u = (1 + y) * pow(1 - y, _P - 2, _P) % _P
    return u.to_bytes(32, "little")


def _ed25519_to_x25519_private(key: ed25519.Ed25519PrivateKey) -> X25519PrivateKey:
    digest = hashlib.sha512(key.private_bytes_raw()).digest()
    return X25519PrivateKey.from_private_bytes(digest[:32])


def _wire(key: ed25519.Ed25519PublicKey | rsa.RSAPublicKey) -> bytes:
    line = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return base64.b64decode(line.split()[1])


def _check_rsa(key: rsa.RSAPublicKey) -> None:
    if key.key_size < MIN_RSA_BITS:
        raise KeyFormatError(f"the RSA key has {key.key_size} bits; at least 2048 are needed")


class SSHEd25519Recipient:
    """An ``ssh-ed25519`` public key to encrypt to."""

    __slots__ = ("_wire", "_x25519")
    labels: ClassVar[frozenset[str]] = frozenset()
    exclusive: ClassVar[bool] = False

    def __init__(self, key: ed25519.Ed25519PublicKey) -> None:
        self._wire = _wire(key)
        self._x25519 = _ed25519_to_x25519_public(key.public_bytes_raw())
        refuse_low_order(self._x25519, "ssh-ed25519 recipient")

    def wrap(self, file_key: bytes) -> list[Stanza]:
        """Wrap ``file_key`` in an ``ssh-ed25519`` stanza."""
        ephemeral = X25519PrivateKey.from_private_bytes(os.urandom(32))
        share = ephemeral.public_key().public_bytes_raw()
        shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(self._x25519))
        shared = _tweak(shared, self._wire)
        wrap_key = hkdf(shared, share + self._x25519, ED25519_LABEL)
        args = (_tag(self._wire), b64encode(share))
        return [Stanza(ED25519_TYPE, args, seal_file_key(wrap_key, file_key))]

    def __str__(self) -> str:
        return f"{ED25519_TYPE} {base64.b64encode(self._wire).decode()}"

    def __repr__(self) -> str:
        return f"SSHEd25519Recipient(tag={_tag(self._wire)!r})"


def _tweak(shared: bytes, wire: bytes) -> bytes:
    tweak = hkdf(b"", wire, ED25519_LABEL)
    try:
        return X25519PrivateKey.from_private_bytes(tweak).exchange(
            X25519PublicKey.from_public_bytes(shared)
        )
    except ValueError:  # pragma: no cover - only a low-order shared secret gets here
        raise FormatError("the ssh-ed25519 share is a low-order point") from None


class SSHRSARecipient:
    """An ``ssh-rsa`` public key (2048 bits or more) to encrypt to."""

    __slots__ = ("_key", "_wire")
    labels: ClassVar[frozenset[str]] = frozenset()
    exclusive: ClassVar[bool] = False

    def __init__(self, key: rsa.RSAPublicKey) -> None:
        _check_rsa(key)
        self._key = key
        self._wire = _wire(key)

    def wrap(self, file_key: bytes) -> list[Stanza]:
        """Wrap ``file_key`` in an ``ssh-rsa`` stanza (RSA-OAEP-SHA-256)."""
        body = self._key.encrypt(file_key, _oaep())
        return [Stanza(RSA_TYPE, (_tag(self._wire),), body)]

    def __str__(self) -> str:
        return f"{RSA_TYPE} {base64.b64encode(self._wire).decode()}"

    def __repr__(self) -> str:
        return f"SSHRSARecipient(bits={self._key.key_size}, tag={_tag(self._wire)!r})"


def _oaep() -> padding.OAEP:
    return padding.OAEP(
        mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=RSA_LABEL
    )


def parse_ssh_recipient(line: str) -> SSHEd25519Recipient | SSHRSARecipient:
    """Parse an OpenSSH public key line (``ssh-ed25519 …`` or ``ssh-rsa …``, comment allowed).

    Raises:
        KeyFormatError: not a valid key line, or an RSA key under 2048 bits.
        UnsupportedAlgorithmError: another SSH key type (ECDSA, security keys…).
    """
    fields = line.strip().split()
    if len(fields) < 2:
        raise KeyFormatError("an SSH public key line is 'TYPE BASE64 [COMMENT]'")
    if fields[0] not in (ED25519_TYPE, RSA_TYPE):
        raise UnsupportedAlgorithmError(
            f"SSH key type {fields[0][:40]!r} is not supported (only ssh-ed25519 and ssh-rsa)"
        )
    try:
        key = serialization.load_ssh_public_key(" ".join(fields[:2]).encode())
    except (ValueError, binascii.Error) as exc:
        raise KeyFormatError(f"invalid {fields[0]} public key: {exc}") from None
    if isinstance(key, ed25519.Ed25519PublicKey):
        return SSHEd25519Recipient(key)
    assert isinstance(key, rsa.RSAPublicKey)
    return SSHRSARecipient(key)


class _LazyKey:
    """A private key read on first use (an encrypted key asks for its passphrase then)."""

    __slots__ = ("_key", "_load")

    def __init__(self, load: Callable[[], Any]) -> None:
        self._load: Callable[[], Any] | None = load
        self._key: Any = None

    def get(self) -> Any:
        if self._key is None:
            assert self._load is not None
            self._key = self._load()
            self._load = None
        return self._key


class SSHEd25519Identity:
    """An OpenSSH Ed25519 private key used as an age identity. Never printed."""

    __slots__ = ("_private", "_tag", "_wire", "_x25519_public")

    def __init__(self, wire: bytes, private: _LazyKey) -> None:
        self._wire = wire
        self._tag = _tag(wire)
        key = serialization.load_ssh_public_key(b"ssh-ed25519 " + base64.b64encode(wire))
        assert isinstance(key, ed25519.Ed25519PublicKey)
        self._x25519_public = _ed25519_to_x25519_public(key.public_bytes_raw())
        self._private = private

    def recipient(self) -> SSHEd25519Recipient:
        """The matching public key."""
        key = serialization.load_ssh_public_key(b"ssh-ed25519 " + base64.b64encode(self._wire))
        assert isinstance(key, ed25519.Ed25519PublicKey)
        return SSHEd25519Recipient(key)

    def unwrap(self, stanza: Stanza) -> bytes | None:
        """Unwrap an ``ssh-ed25519`` stanza with this key's tag; ``None`` otherwise.

        Raises:
            FormatError: malformed arguments, share or body.
            DecryptionError: the key is encrypted and the passphrase is wrong.
        """
        if stanza.type != ED25519_TYPE:
            return None
        if len(stanza.args) != 2:
            raise FormatError("an ssh-ed25519 stanza must have exactly two arguments")
        tag = b64decode(stanza.args[0], "ssh-ed25519 tag")
        share = b64decode(stanza.args[1], "ssh-ed25519 share")
        if len(tag) != TAG_SIZE or len(share) != 32:
            raise FormatError("the ssh-ed25519 tag or share has the wrong length")
        if len(stanza.body) != WRAPPED_KEY_SIZE:
            raise FormatError("the ssh-ed25519 stanza body is not 32 bytes")
        if not same_bytes(stanza.args[0].encode(), self._tag.encode()):
            return None
        private = self._private.get()
        shared = exchange(_ed25519_to_x25519_private(private), share)
        shared = _tweak(shared, self._wire)
        wrap_key = hkdf(shared, share + self._x25519_public, ED25519_LABEL)
        return open_file_key(wrap_key, stanza.body)

    def __repr__(self) -> str:
        return f"SSHEd25519Identity(tag={self._tag!r})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("an identity holds a private key and cannot be pickled")


class SSHRSAIdentity:
    """An OpenSSH or PEM RSA private key used as an age identity. Never printed."""

    __slots__ = ("_private", "_tag", "_wire")

    def __init__(self, wire: bytes, private: _LazyKey) -> None:
        self._wire = wire
        self._tag = _tag(wire)
        self._private = private

    def recipient(self) -> SSHRSARecipient:
        """The matching public key."""
        key = serialization.load_ssh_public_key(b"ssh-rsa " + base64.b64encode(self._wire))
        assert isinstance(key, rsa.RSAPublicKey)
        return SSHRSARecipient(key)

    def unwrap(self, stanza: Stanza) -> bytes | None:
        """Unwrap an ``ssh-rsa`` stanza with this key's tag; ``None`` otherwise.

        Raises:
            FormatError: malformed arguments.
            DecryptionError: the key is encrypted and the passphrase is wrong.
        """
        if stanza.type != RSA_TYPE:
            return None
        if len(stanza.args) != 1:
            raise FormatError("an ssh-rsa stanza must have exactly one argument")
        if len(b64decode(stanza.args[0], "ssh-rsa tag")) != TAG_SIZE:
            raise FormatError("the ssh-rsa tag is not 4 bytes")
        if not same_bytes(stanza.args[0].encode(), self._tag.encode()):
            return None
        private = self._private.get()
        try:
            key = private.decrypt(stanza.body, _oaep())
        except ValueError:
            return None
        if len(key) != 16:
            raise FormatError("the ssh-rsa stanza holds a file key that is not 16 bytes")
        assert isinstance(key, bytes)
        return key

    def __repr__(self) -> str:
        return f"SSHRSAIdentity(tag={self._tag!r})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("an identity holds a private key and cannot be pickled")


def _read_string(data: bytes, pos: int) -> tuple[bytes, int]:
    if pos + 4 > len(data):
        raise KeyFormatError("truncated OpenSSH private key")
    (n,) = struct.unpack_from(">I", data, pos)
    end = pos + 4 + n
    if end > len(data):
        raise KeyFormatError("truncated OpenSSH private key")
    return data[pos + 4 : end], end


def _openssh_public(pem: bytes) -> tuple[bytes, str]:
    """The public key (wire form) of an OpenSSH private key file, and the cipher that
    encrypts it (``"none"``)."""
    lines = pem.strip().splitlines()
    try:
        blob = base64.b64decode(b"".join(lines[1:-1]), validate=True)
    except (binascii.Error, ValueError):
        raise KeyFormatError("the OpenSSH private key is not valid base64") from None
    if not blob.startswith(_OPENSSH_MAGIC):
        raise KeyFormatError("not an OpenSSH private key")
    pos = len(_OPENSSH_MAGIC)
    cipher, pos = _read_string(blob, pos)
    _kdf, pos = _read_string(blob, pos)
    _options, pos = _read_string(blob, pos)
    if pos + 4 > len(blob) or struct.unpack_from(">I", blob, pos)[0] != 1:
        raise KeyFormatError("the OpenSSH private key file must hold exactly one key")
    wire, _ = _read_string(blob, pos + 4)
    return wire, cipher[:40].decode("ascii", "replace")


def _secret_bytes(passphrase: Passphrase | None, what: str) -> bytes:
    if passphrase is None:
        raise ConfigError(
            f"{what} is encrypted and no passphrase was given",
            hint="pass the passphrase",
            code="passphrase_needed",
        )
    from sealbox.age.scrypt import _passphrase  # the one check: str, bytes or Secret

    return _passphrase(passphrase() if callable(passphrase) else passphrase)


def load_ssh_identity(
    data: bytes, *, passphrase: Passphrase | None = None, name: str = "the SSH key"
) -> SSHEd25519Identity | SSHRSAIdentity:
    """Load an SSH private key file (OpenSSH or PEM) as an identity.

    Args:
        data: the key file.
        passphrase: called for the passphrase of an encrypted key: for an OpenSSH
            key only when a file turns out to hold a stanza for it.
        name: how messages call the key (its file name).

    Raises:
        KeyFormatError: not a private key sealbox can read.
        UnsupportedAlgorithmError: a key type other than Ed25519 and RSA.
        DecryptionError: (now or when unwrapping) a wrong passphrase.
    """
    text = data.strip()
    if text.startswith(begin_line("OPENSSH PRIVATE KEY")):
        wire, cipher = _openssh_public(text)
        encrypted = cipher != "none"

        def load() -> Any:
            password = _secret_bytes(passphrase, name) if encrypted else None
            return _load(
                lambda: serialization.load_ssh_private_key(text, password),
                name,
                encrypted=encrypted,
                cipher=cipher,
            )

        key_type, _ = _read_string(wire, 0)
        return _identity(key_type, wire, _LazyKey(load), name)
    if text.startswith(b"-----BEGIN"):
        first = text.split(b"\n", 1)[0].strip()
        for label, what in _NOT_PRIVATE:
            if first == begin_line(label):
                raise KeyFormatError(
                    f"{name} holds {what}, not a private key", hint="give the private key file"
                )
        encrypted = b"ENCRYPTED" in first or b"Proc-Type: 4,ENCRYPTED" in text
        password = _secret_bytes(passphrase, name) if encrypted else None
        private = _load(
            lambda: serialization.load_pem_private_key(text, password), name, encrypted=encrypted
        )
        if not isinstance(private, ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey):
            raise UnsupportedAlgorithmError(f"{name} is not an Ed25519 or RSA key")
        wire = _wire(private.public_key())
        key_type, _ = _read_string(wire, 0)
        return _identity(key_type, wire, _LazyKey(lambda: private), name)
    raise KeyFormatError(f"{name} is not an SSH private key")


# PEM blocks that are not private keys: no passphrase can open them.
_NOT_PRIVATE: Final = (
    ("PUBLIC KEY", "a public key"),
    ("RSA PUBLIC KEY", "a public key"),
    ("CERTIFICATE", "a certificate"),
)


def _load(
    load: Callable[[], Any], name: str, *, encrypted: bool = True, cipher: str | None = None
) -> Any:
    from cryptography.exceptions import UnsupportedAlgorithm

    try:
        return load()
    except UnsupportedAlgorithm as exc:
        if "bcrypt" in str(exc):
            raise ExtraNotInstalledError("ssh", "bcrypt") from None
        if cipher is not None and cipher != "none":
            # pyca says "Unsupported cipher: b'aes128-cbc'": named here in words.
            raise UnsupportedAlgorithmError(
                f"{name} is encrypted with the cipher {cipher!r}, which sealbox cannot open",
                hint="encrypt the key again with OpenSSH's default cipher: ssh-keygen -p -f FILE",
            ) from None
        raise UnsupportedAlgorithmError(f"{name}: {exc}") from None
    except (ValueError, TypeError):
        if not encrypted:  # no passphrase was used: only the file can be at fault
            raise KeyFormatError(f"{name} is damaged: not a private key sealbox can read") from None
        raise DecryptionError(
            f"cannot open {name}: wrong passphrase, or the key file is damaged",
            code="key_not_opened",
        ) from None


def _identity(
    key_type: bytes, wire: bytes, lazy: _LazyKey, name: str
) -> SSHEd25519Identity | SSHRSAIdentity:
    if key_type == b"ssh-ed25519":
        return SSHEd25519Identity(wire, lazy)
    if key_type == b"ssh-rsa":
        key = serialization.load_ssh_public_key(b"ssh-rsa " + base64.b64encode(wire))
        assert isinstance(key, rsa.RSAPublicKey)
        _check_rsa(key)
        return SSHRSAIdentity(wire, lazy)
    raise UnsupportedAlgorithmError(
        f"{name} is a {key_type[:40].decode('ascii', 'replace')!r} key; "
        "only ssh-ed25519 and ssh-rsa keys are supported"
    )
