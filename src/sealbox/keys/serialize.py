"""Key files: reading and writing PEM, PKCS#8 and OpenSSH keys, encrypted or not.

Written:

* private keys as OpenSSH (PEM label ``OPENSSH PRIVATE KEY``, bcrypt KDF with
  :data:`OPENSSH_BCRYPT_ROUNDS` rounds and AES-256-CTR, PROTOCOL.key) or PKCS#8 PEM
  (RFC 5958; encrypted with PBES2 = scrypt N=2^14, r=8, p=5 and AES-256-CBC, see
  :data:`PKCS8_SCRYPT` and :mod:`sealbox.keys.pkcs8`);
* public keys as OpenSSH lines (``ssh-ed25519 AAAA… comment``, RFC 4253 section 6.6)
  or PEM ``SubjectPublicKeyInfo`` (RFC 5280 section 4.1).

Read: those, and what ``ssh-keygen`` and ``openssl`` write (PKCS#1 and SEC 1 PEM,
PBES2/PBKDF2 PKCS#8, legacy encrypted PEM). The KDF costs a file asks for are checked
against ceilings before anything is derived. The functions take and return
pyca/cryptography keys; :mod:`sealbox.keys.asymmetric` wraps them.
"""

from __future__ import annotations

import base64
from typing import Final, Literal, TypeAlias

from cryptography.exceptions import InvalidTag as _InvalidTag
from cryptography.exceptions import UnsupportedAlgorithm as _PycaUnsupported
from cryptography.hazmat.primitives import serialization

from sealbox._util import pem as _pem
from sealbox.exceptions import (
    ConfigError,
    DecryptionError,
    ExtraNotInstalledError,
    FormatError,
    KeyFormatError,
    UnsupportedAlgorithmError,
)
from sealbox.hazmat import kdf
from sealbox.keys import pkcs8 as _pkcs8
from sealbox.keys import sshwire as _sshwire
from sealbox.keys.kinds import (
    SSH_TYPES,
    KeyType,
    Passphrase,
    PassphraseSource,
    PycaPrivate,
    PycaPublic,
    classify,
)

__all__ = [
    "MAX_KEY_FILE_SIZE",
    "OPENSSH_BCRYPT_MAX_ROUNDS",
    "OPENSSH_BCRYPT_ROUNDS",
    "PKCS8_SCRYPT",
    "KeyFileFormat",
    "export_private",
    "load_private",
    "load_public",
    "public_from_ssh_blob",
    "ssh_blob",
]

# ssh-keygen's default is 16 rounds; 32 costs about the work of a bcrypt password
# hash at cost 12, and about the cost of the PKCS#8 setting below.
OPENSSH_BCRYPT_ROUNDS: Final = 32
# The most rounds a key file may ask for when read.
OPENSSH_BCRYPT_MAX_ROUNDS: Final = 1024
PKCS8_SCRYPT: Final = _pkcs8.SCRYPT_DEFAULT
MAX_KEY_FILE_SIZE: Final = 256 * 1024

KeyFileFormat: TypeAlias = Literal["openssh", "pem"]

_OPENSSH_MAGIC: Final = b"openssh-key-v1\x00"
_OPENSSH_MAGIC_PEM: Final = _pem.begin_line("OPENSSH PRIVATE KEY")
# PROTOCOL.key: an AEAD cipher's tag follows the private section, outside its string.
_OPENSSH_AEAD_TAG: Final = {"aes256-gcm@openssh.com": 16, "chacha20-poly1305@openssh.com": 16}
_PRIVATE_LABELS: Final = frozenset(
    {"PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"}
)
_PUBLIC_LABELS: Final = frozenset({"PUBLIC KEY", "RSA PUBLIC KEY"})


# --- reading ------------------------------------------------------------------------------


def load_private(raw: bytes, passphrase: PassphraseSource, what: str) -> PycaPrivate:
    """The private key in a key file's content: OpenSSH or PEM (PKCS#8, PKCS#1, SEC 1).

    ``passphrase`` (a callable is called only if the key is encrypted) opens an
    encrypted key; ``what`` names the input in messages.

    Raises:
        KeyFormatError: not a private key, a damaged one, or KDF costs beyond the ceiling.
        DecryptionError: encrypted, and the passphrase is missing or wrong.
        UnsupportedAlgorithmError: a key type or encryption sealbox does not handle.
        ExtraNotInstalledError: an encrypted OpenSSH key without ``bcrypt``.
    """
    if _OPENSSH_MAGIC_PEM in raw:
        return _OpenSSHPrivate.parse(raw, what).decrypt(passphrase)
    block = _pem.first_block(raw, what)
    if block is None:
        if _is_public_key_line(raw):
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
        cipher = None
        if block.label == "ENCRYPTED PRIVATE KEY":
            cipher = _pkcs8.unreadable_cipher(block.der)
        if cipher is not None:
            raise UnsupportedAlgorithmError(
                f"{what} is encrypted with {cipher}, which sealbox cannot decrypt",
                hint="re-encrypt it with openssl pkcs8 -topk8 -v2 aes-256-cbc",
            ) from None
        if encrypted:
            raise _wrong_passphrase(what) from None
        raise KeyFormatError(f"{what} is a damaged {block.label}") from None
    return key  # type: ignore[return-value]


def load_public(raw: bytes, passphrase: PassphraseSource, what: str) -> tuple[PycaPublic, str]:
    """The public key in a key file's content, and its comment ('' if none).

    Accepts an OpenSSH public key line, a PEM ``PUBLIC KEY`` or ``RSA PUBLIC KEY``, or
    a private key: an OpenSSH private key gives its public half without a passphrase
    (it is stored in the clear); a PEM private key is decrypted first if encrypted.

    Raises:
        KeyFormatError, UnsupportedAlgorithmError, DecryptionError: as
            :func:`load_private`.
    """
    if _OPENSSH_MAGIC_PEM in raw:
        parsed = _OpenSSHPrivate.parse(raw, what)
        return parsed.public, parsed.comment
    block = _pem.first_block(raw, what)
    if block is not None:
        if block.label in _PUBLIC_LABELS:
            try:
                key = serialization.load_der_public_key(block.der)
            except (ValueError, _PycaUnsupported) as exc:
                raise _pyca_key_error(exc, what, "public key") from None
            return key, ""  # type: ignore[return-value]
        if block.label in _PRIVATE_LABELS:
            private = load_private(raw, passphrase, what)
            classify(private, what)
            return private.public_key(), ""
        raise _not_a_key(what, block.label)
    for line in raw.decode("utf-8", "replace").splitlines():
        fields = line.split(None, 2)
        if not fields or fields[0].startswith("#"):
            continue
        if not _names_key_type(fields[0]):
            # An authorized_keys line: options come before the key type (sshd(8),
            # AUTHORIZED_KEYS FILE FORMAT); ssh-keygen -l and -y skip them too.
            fields = _after_options(line).split(None, 2)
            if not fields or not _names_key_type(fields[0]):
                raise _not_a_key(what, None)
        if len(fields) < 2:
            raise KeyFormatError(f"{what} is not a key: expected a key type and base64 key")
        comment = fields[2].strip() if len(fields) > 2 else ""
        text = (fields[0] + " " + fields[1]).encode()
        return _from_ssh_line(text, fields[0], what), comment
    raise _not_a_key(what, None)


def _is_public_key_line(raw: bytes) -> bool:
    """Whether the first line that is not blank or a comment is an OpenSSH public key."""
    for line in raw.decode("utf-8", "replace").splitlines():
        fields = line.split(None, 1)
        if not fields or fields[0].startswith("#"):
            continue
        if not _names_key_type(fields[0]):
            fields = _after_options(line).split(None, 1)
        return bool(fields) and _names_key_type(fields[0])
    return False


def _names_key_type(word: str) -> bool:
    return word in SSH_TYPES or word.startswith(("ssh-", "ecdsa-", "sk-", "rsa-"))


def _after_options(line: str) -> str:
    """The rest of an authorized_keys line after its options, as ssh-keygen finds it."""
    return split_ssh_options(line.lstrip(" \t"))[1]


def split_ssh_options(text: str) -> tuple[str, str, bool]:
    """The options at the start of ``text``, the rest, and whether a double quote was
    left open, cut as ssh-keygen cuts them (``sshkey_advance_past_options``): at the
    first blank outside double quotes, where ``\\"`` neither opens nor closes a quote."""
    quoted, i = False, 0
    while i < len(text) and (quoted or text[i] not in " \t"):
        if text[i] == "\\" and text[i + 1 : i + 2] == '"':
            i += 1
        elif text[i] == '"':
            quoted = not quoted
        i += 1
    return text[:i], text[i:], quoted


def public_from_ssh_blob(blob: bytes, what: str) -> PycaPublic:
    """Parse the SSH wire encoding of a public key (RFC 4253 section 6.6, RFC 5656).

    Raises:
        KeyFormatError: the blob is malformed.
        UnsupportedAlgorithmError: a key type sealbox does not handle.
    """
    name = _sshwire.Reader(blob, what).string("key type")
    line = name + b" " + base64.b64encode(blob)
    return _from_ssh_line(line, name.decode("ascii", "replace"), what)


def _from_ssh_line(line: bytes, name: str, what: str) -> PycaPublic:
    if name not in SSH_TYPES:
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
    return key  # type: ignore[return-value]


# --- writing ------------------------------------------------------------------------------


def ssh_blob(key: PycaPublic) -> bytes:
    """The SSH wire encoding of a public key (RFC 4253 section 6.6); not for X25519."""
    line = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return base64.b64decode(line.split()[1])


def export_private(
    key: PycaPrivate,
    kind: KeyType,
    passphrase: Passphrase | None,
    *,
    format: KeyFileFormat,  # noqa: A002 - the word
    bcrypt_rounds: int,
    scrypt: kdf.ScryptParams,
) -> bytes:
    """A private key file's content, encrypted under ``passphrase`` (``None``: in clear).

    Raises:
        UnsupportedAlgorithmError: ``openssh`` for an x25519 key.
        ConfigError: an unknown format or KDF setting, or an empty passphrase.
        ExtraNotInstalledError: an encrypted OpenSSH key without ``bcrypt``.
    """
    password = None if passphrase is None else kdf.passphrase_bytes(passphrase)
    if password == b"":
        raise ConfigError(
            "the passphrase is empty",
            hint="pass None to write the key in clear",
            code="empty_passphrase",
        )
    if format == "openssh":
        if kind is KeyType.X25519:
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
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, encryption
        )
    if format == "pem":
        der = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        if password is None:
            return _pem.encode("PRIVATE KEY", der)
        return _pem.encode("ENCRYPTED PRIVATE KEY", _pkcs8.encrypt(der, password, scrypt))
    raise ConfigError(f"unknown key file format {format!r}: choose openssh or pem")


# --- shared --------------------------------------------------------------------------------


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


def key_bytes(data: bytes | str, what: str) -> bytes:
    """A key file's content as bytes (``str`` as UTF-8).

    Raises:
        KeyFormatError: a ``str`` that is not valid Unicode text.
        TypeError: neither ``str`` nor a bytes-like object.
    """
    if isinstance(data, str):
        try:
            return data.encode()
        except UnicodeEncodeError:
            raise KeyFormatError(f"{what} is not valid Unicode text") from None
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"key data must be bytes or str, not {type(data).__name__}")
    return bytes(data)


def _wrong_passphrase(what: str) -> DecryptionError:
    return DecryptionError(f"cannot decrypt {what}: wrong passphrase, or the file was altered")


def _need_bcrypt() -> None:
    try:
        import bcrypt  # noqa: F401  (pyca imports it for the OpenSSH KDF)
    except ImportError:
        raise ExtraNotInstalledError("ssh", "bcrypt") from None


def _not_a_key(what: str, label: str | None) -> KeyFormatError:
    if label is not None:
        return KeyFormatError(f"{what} holds a PEM {label!r} block, not a key")
    return KeyFormatError(f"{what} is not a key file: expected a PEM or OpenSSH key")


def _pyca_key_error(exc: Exception, what: str, kind: str) -> Exception:
    if isinstance(exc, _PycaUnsupported):
        return UnsupportedAlgorithmError(f"{what}: this kind of {kind} is not supported")
    return KeyFormatError(f"{what} is a damaged {kind}")


# --- OpenSSH private key files (PROTOCOL.key) ----------------------------------------------


class _OpenSSHPrivate:
    """The clear parts of an OpenSSH private key file: cipher, KDF, public key, comment."""

    __slots__ = ("cipher", "comment", "pem", "public", "rounds", "what")

    def __init__(  # noqa: PLR0917 - a private record
        self, pem: bytes, cipher: str, rounds: int, public: PycaPublic, comment: str, what: str
    ) -> None:
        self.pem = pem
        self.cipher = cipher
        self.rounds = rounds
        self.public = public
        self.comment = comment
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
            if cipher in _OPENSSH_AEAD_TAG:
                r.raw(_OPENSSH_AEAD_TAG[cipher], "authentication tag")
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
        public = public_from_ssh_blob(blob, what)
        kind = classify(public, what)
        comment = _clear_comment(private_section, kind) if cipher == "none" else ""
        return cls(raw, cipher, rounds, public, comment, what)

    def decrypt(self, passphrase: PassphraseSource) -> PycaPrivate:
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
        except (ValueError, TypeError, _InvalidTag):
            if password is not None:
                raise _wrong_passphrase(self.what) from None
            raise KeyFormatError(f"{self.what} is a damaged OpenSSH private key") from None
        # pyca checks the copies of the public key against each other, not against the
        # secret (Ed25519 seed, ECDSA scalar), and AES-CTR has no MAC: an altered secret
        # would load as another key than the one the file lists and prints.
        if _spki(key.public_key()) != _spki(self.public):  # type: ignore[arg-type]
            if password is not None:
                raise _wrong_passphrase(self.what)
            raise KeyFormatError(
                f"{self.what} is a damaged OpenSSH private key: its private key does not "
                "match the public key it lists"
            )
        return key  # type: ignore[return-value]


def _spki(key: PycaPublic) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


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
