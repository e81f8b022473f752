"""The SSHSIG format (PROTOCOL.sshsig, OpenSSH revision 1.4): armor, blob and signed data.

Section 1, the armor: ``-----BEGIN SSH SIGNATURE-----``, base64 of the blob wrapped at
70 columns, ``-----END SSH SIGNATURE-----``. Sections 2 and 3::

    blob        = "SSHSIG" | uint32 1 | string publickey | string namespace
                  | string reserved | string hash_algorithm | string signature
    signed data = "SSHSIG" | string namespace | string reserved
                  | string hash_algorithm | string H(message)

:class:`SSHSignature` parses and writes the blob and its armor; :func:`digest` hashes a
message of any size in constant memory. Signing and verifying are in
:mod:`sealbox.keys.sshsig`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from dataclasses import dataclass
from typing import BinaryIO, Final

from sealbox._util.files import read_limited
from sealbox.exceptions import (
    ConfigError,
    FormatError,
    KeyFormatError,
    UnsupportedAlgorithmError,
)
from sealbox.keys import sshwire as _sshwire
from sealbox.keys.asymmetric import KeyType, PublicKey

__all__ = [
    "ARMOR_BEGIN",
    "ARMOR_END",
    "HASHES",
    "HASH_ALGORITHM",
    "MAGIC",
    "MAX_SIGNATURE_FILE",
    "SIG_ALGORITHMS",
    "VERSION",
    "SSHSignature",
    "check_namespace",
    "digest",
    "signed_data",
]

MAGIC: Final = b"SSHSIG"
VERSION: Final = 1
HASH_ALGORITHM: Final = "sha512"  # what ssh-keygen writes; "sha256" is also read
ARMOR_BEGIN: Final = "-----BEGIN SSH SIGNATURE-----"
ARMOR_END: Final = "-----END SSH SIGNATURE-----"
# ssh-keygen wraps the base64 at 70 columns (the spec says SHOULD at 76; both read).
_LINE: Final = 70
_CHUNK: Final = 1 << 20
MAX_SIGNATURE_FILE: Final = 64 * 1024

HASHES: Final = ("sha256", "sha512")
SIG_ALGORITHMS: Final = {
    KeyType.ED25519: ("ssh-ed25519",),
    KeyType.RSA: ("rsa-sha2-512", "rsa-sha2-256"),
    KeyType.ECDSA_P256: ("ecdsa-sha2-nistp256",),
}
"""The signature algorithms accepted for each key type when verifying."""


def digest(data: bytes | BinaryIO, algorithm: str = HASH_ALGORITHM) -> bytes:
    """Hash bytes or a binary file object (read to its end in 1 MiB pieces, one buffer)."""
    if algorithm not in HASHES:
        raise UnsupportedAlgorithmError(f"hash algorithm {algorithm!r} is not supported")
    h = hashlib.new(algorithm)
    if isinstance(data, bytes | bytearray | memoryview):
        h.update(data)
        return h.digest()
    readinto = getattr(data, "readinto", None)
    if readinto is None:
        while chunk := data.read(_CHUNK):
            h.update(chunk)
        return h.digest()
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    while n := readinto(buf):
        h.update(view[:n])
    return h.digest()


def signed_data(namespace: str, reserved: bytes, hash_algorithm: str, message_hash: bytes) -> bytes:
    """The bytes the inner signature is made over (PROTOCOL.sshsig section 3)."""
    return (
        MAGIC
        + _sshwire.string(namespace.encode())
        + _sshwire.string(reserved)
        + _sshwire.string(hash_algorithm.encode())
        + _sshwire.string(message_hash)
    )


def check_namespace(namespace: str) -> None:
    """Refuse a namespace that is not one non-empty line of printable text, or not a str.

    PROTOCOL.sshsig section 2 forbids only the empty namespace, and ssh-keygen signs for
    any other; but a namespace with a line break or another control or format character
    (``\\x1b``, U+202E) cannot be listed in an allowed-signers file's ``namespaces="…"``
    (one signer per line), and printed it would start a line of its own or rewrite the
    terminal. Signing and verifying refuse it alike (error code ``bad_namespace``, the
    namespace escaped in ``facts``).
    """
    if not isinstance(namespace, str):
        raise TypeError("namespace must be a str")
    if namespace and namespace.isprintable():
        return
    shown = ascii(namespace)[1:-1]
    problem = (
        "must not be empty" if not namespace else f"'{shown}' is not one line of printable text"
    )
    raise ConfigError(
        f"the namespace {problem}",
        hint="a namespace names what a signature is for, such as file, git or "
        "name@example.com (PROTOCOL.sshsig section 2)",
        code="bad_namespace",
        facts={"namespace": shown},
    )


@dataclass(frozen=True, slots=True)
class SSHSignature:
    """A parsed SSHSIG signature (PROTOCOL.sshsig section 2).

    Attributes:
        public_key: the key that made the signature (not yet trusted: verify!).
        namespace: the interpretation domain, e.g. ``file`` or ``git``.
        hash_algorithm: ``sha512`` or ``sha256``.
        algorithm: the SSH signature algorithm, e.g. ``ssh-ed25519``.
        signature: the raw signature bytes of that algorithm.
        reserved: the reserved field (empty in every signature seen so far).
    """

    public_key: PublicKey
    namespace: str
    hash_algorithm: str
    algorithm: str
    signature: bytes
    reserved: bytes = b""

    @classmethod
    def from_blob(cls, blob: bytes, *, what: str = "signature") -> SSHSignature:
        """Parse the binary blob.

        Raises:
            FormatError: not an SSHSIG blob, truncated or with trailing data.
            UnsupportedAlgorithmError: another version, hash or key type.
        """
        r = _sshwire.Reader(blob, what)
        if not blob.startswith(MAGIC):
            if MAGIC.startswith(blob):
                raise FormatError(f"{what} is truncated (in magic)")
            raise FormatError(f"{what} is not an SSH signature (no SSHSIG magic)")
        r.raw(len(MAGIC), "magic")
        version = r.uint32("version")
        if version != VERSION:
            raise UnsupportedAlgorithmError(
                f"{what} is SSHSIG version {version}; sealbox reads version {VERSION}"
            )
        key_blob = r.string("public key")
        namespace_raw = r.string("namespace")
        reserved = r.string("reserved")
        hash_algorithm = r.string("hash algorithm").decode("ascii", "replace")
        inner = r.string("signature")
        r.done()
        try:
            public_key = PublicKey.from_ssh_blob(key_blob, what=f"the key in {what}")
        except KeyFormatError as exc:
            raise FormatError(str(exc)) from None
        try:
            namespace = namespace_raw.decode()
        except UnicodeDecodeError:
            raise FormatError(f"{what}: the namespace is not UTF-8") from None
        if not namespace:
            raise FormatError(f"{what} has an empty namespace")
        if hash_algorithm not in HASHES:
            raise UnsupportedAlgorithmError(
                f"{what} uses hash {hash_algorithm!r}; SSHSIG defines sha256 and sha512"
            )
        s = _sshwire.Reader(inner, what)
        algorithm = s.string("signature algorithm").decode("ascii", "replace")
        raw = s.string("signature value")
        s.done()
        allowed = SIG_ALGORITHMS[public_key.key_type]
        if algorithm not in allowed:
            if algorithm == "ssh-rsa":
                raise UnsupportedAlgorithmError(
                    f"{what} uses ssh-rsa (RSA with SHA-1), which PROTOCOL.sshsig forbids"
                )
            raise FormatError(
                f"{what}: signature algorithm {algorithm!r} does not match its "
                f"{public_key.ssh_name} key"
            )
        return cls(public_key, namespace, hash_algorithm, algorithm, raw, reserved)

    @classmethod
    def parse(cls, data: bytes | str, *, what: str = "signature") -> SSHSignature:
        """Parse the armored form (``-----BEGIN SSH SIGNATURE-----``, section 1).

        Raises:
            FormatError: no armor, no END line (truncated), bad base64, or a bad blob.
            UnsupportedAlgorithmError: see :meth:`from_blob`.
        """
        text = data.decode("ascii", "replace") if isinstance(data, bytes) else data
        text = text.strip()
        if not text.startswith(ARMOR_BEGIN):
            raise FormatError(
                f"{what} is not an SSH signature: it does not start with {ARMOR_BEGIN}"
            )
        end = text.find(ARMOR_END)
        if end < 0:
            raise FormatError(f"{what} is truncated: no {ARMOR_END} line")
        if text[end + len(ARMOR_END) :].strip():
            raise FormatError(f"{what} has text after the {ARMOR_END} line")
        body = re.sub(r"\s+", "", text[len(ARMOR_BEGIN) : end])
        try:
            blob = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise FormatError(f"{what} is damaged: its body is not valid base64") from None
        return cls.from_blob(blob, what=what)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SSHSignature:
        """Read an armored signature file (at most 64 KiB)."""
        data = read_limited(path, MAX_SIGNATURE_FILE, "signature file")
        return cls.parse(data, what=f"signature file {path}")

    def blob(self) -> bytes:
        """The binary blob (section 2)."""
        inner = _sshwire.string(self.algorithm.encode()) + _sshwire.string(self.signature)
        return (
            MAGIC
            + _sshwire.uint32(VERSION)
            + _sshwire.string(self.public_key.ssh_blob())
            + _sshwire.string(self.namespace.encode())
            + _sshwire.string(self.reserved)
            + _sshwire.string(self.hash_algorithm.encode())
            + _sshwire.string(inner)
        )

    def armor(self) -> str:
        """The armored text, as ``ssh-keygen -Y sign`` writes it (ends with a newline)."""
        body = base64.b64encode(self.blob()).decode()
        lines = [body[i : i + _LINE] for i in range(0, len(body), _LINE)]
        return "\n".join([ARMOR_BEGIN, *lines, ARMOR_END]) + "\n"
