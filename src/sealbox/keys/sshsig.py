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

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from sealbox._util.files import read_limited
from sealbox.exceptions import (
    ConfigError,
    FormatError,
    InvalidSignatureError,
    KeyFormatError,
    SignerNotAllowedError,
    UnsupportedAlgorithmError,
)
from sealbox.keys import sshwire as _sshwire
from sealbox.keys.asymmetric import KeyType, PrivateKey, PublicKey

__all__ = [
    "ARMOR_BEGIN",
    "ARMOR_END",
    "HASH_ALGORITHM",
    "MAGIC",
    "AllowedSigner",
    "AllowedSigners",
    "SSHSignature",
    "Verified",
    "digest",
    "sign",
    "verify",
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
MAX_ALLOWED_SIGNERS_FILE: Final = 16 * 1024 * 1024

_HASHES: Final = ("sha256", "sha512")
# Signature algorithms accepted for each key type when verifying.
_SIG_ALGORITHMS: Final = {
    KeyType.ED25519: ("ssh-ed25519",),
    KeyType.RSA: ("rsa-sha2-512", "rsa-sha2-256"),
    KeyType.ECDSA_P256: ("ecdsa-sha2-nistp256",),
}
_RSA_HASH: Final = {"rsa-sha2-512": hashes.SHA512(), "rsa-sha2-256": hashes.SHA256()}
_ECDSA: Final = ec.ECDSA(hashes.SHA256())


def digest(data: bytes | BinaryIO, algorithm: str = HASH_ALGORITHM) -> bytes:
    """Hash bytes or a binary file object (read to its end in 1 MiB pieces, one buffer)."""
    if algorithm not in _HASHES:
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


def _signed_data(
    namespace: str, reserved: bytes, hash_algorithm: str, message_hash: bytes
) -> bytes:
    return (
        MAGIC
        + _sshwire.string(namespace.encode())
        + _sshwire.string(reserved)
        + _sshwire.string(hash_algorithm.encode())
        + _sshwire.string(message_hash)
    )


def _check_namespace(namespace: str) -> None:
    if not isinstance(namespace, str):
        raise TypeError("namespace must be a str")
    if not namespace:
        raise ConfigError("the namespace must not be empty (PROTOCOL.sshsig section 2)")


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
        if hash_algorithm not in _HASHES:
            raise UnsupportedAlgorithmError(
                f"{what} uses hash {hash_algorithm!r}; SSHSIG defines sha256 and sha512"
            )
        s = _sshwire.Reader(inner, what)
        algorithm = s.string("signature algorithm").decode("ascii", "replace")
        raw = s.string("signature value")
        s.done()
        allowed = _SIG_ALGORITHMS[public_key.key_type]
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

    def _check(self, message_hash: bytes) -> None:
        """Verify the signature over the signed data; InvalidSignatureError if it fails."""
        signed = _signed_data(self.namespace, self.reserved, self.hash_algorithm, message_hash)
        key = self.public_key.cryptography_key()
        sig = self.signature
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
                key.verify(sig, signed, padding.PKCS1v15(), _RSA_HASH[self.algorithm])
            else:
                assert isinstance(key, ec.EllipticCurvePublicKey)
                key.verify(sig, signed, _ECDSA)
        except InvalidSignature:
            raise failed from None


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
        ConfigError: an empty namespace.
    """
    _check_namespace(namespace)
    public = key.public_key
    if public.key_type is KeyType.X25519:
        raise UnsupportedAlgorithmError(
            "x25519 keys cannot sign", hint="use an ed25519, ecdsa-p256 or rsa key to sign"
        )
    signed = _signed_data(namespace, b"", HASH_ALGORITHM, digest(data, HASH_ALGORITHM))
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
    """
    _check_namespace(namespace)
    if (public_key is None) == (allowed_signers is None):
        raise TypeError("give either public_key or allowed_signers (with principal)")
    sig = signature if isinstance(signature, SSHSignature) else SSHSignature.parse(signature)
    fingerprint = sig.public_key.fingerprint()
    if sig.namespace != namespace:
        raise SignerNotAllowedError(
            f"the signature is for namespace {sig.namespace!r}, not {namespace!r}",
            hint=f"if {sig.namespace!r} is what you expect, verify with -n {sig.namespace}",
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
    sig._check(digest(data, sig.hash_algorithm))
    return Verified(sig.public_key, sig.namespace, principal)


# --- allowed signers (ssh-keygen(1), ALLOWED SIGNERS) ------------------------------------


@dataclass(frozen=True, slots=True)
class AllowedSigner:
    """One line of an allowed-signers file.

    Attributes:
        principals: the principal pattern-list (``*`` and ``?`` wildcards, ``!`` negation).
        public_key: the key.
        namespaces: the namespace pattern-list of a ``namespaces=`` option, or ``None``.
        valid_after: from ``valid-after=``, or ``None``.
        valid_before: from ``valid-before=``, or ``None``.
        cert_authority: the line has ``cert-authority``: it trusts certificates
            signed by the key, which sealbox does not verify, so it never matches.
        line: the line number in the file.
    """

    principals: str
    public_key: PublicKey
    namespaces: str | None = None
    valid_after: datetime | None = None
    valid_before: datetime | None = None
    cert_authority: bool = False
    line: int = 0


class AllowedSigners:
    """The keys trusted to sign, per principal: ssh-keygen's allowed-signers format.

    Each line: ``principals [options] keytype base64-key [comment]``. Empty lines
    and lines starting with ``#`` are ignored. Options: ``cert-authority``,
    ``namespaces="pattern-list"``, ``valid-after=`` and ``valid-before=``
    (``YYYYMMDD[Z]`` or ``YYYYMMDDHHMM[SS][Z]``, local time unless ``Z``).
    Lines with key types sealbox does not handle (``ssh-dss``, security keys) are
    kept out; a line that cannot be parsed is an error that names it.
    """

    __slots__ = ("entries", "source")

    def __init__(
        self, entries: Iterable[AllowedSigner], *, source: str = "allowed signers"
    ) -> None:
        self.entries: tuple[AllowedSigner, ...] = tuple(entries)
        self.source = source

    @classmethod
    def parse(cls, text: str | bytes, *, source: str = "allowed signers") -> AllowedSigners:
        """Parse the text of an allowed-signers file.

        Raises:
            FormatError: a line is malformed (the message gives its number).
        """
        if isinstance(text, bytes):
            try:
                text = text.decode()
            except UnicodeDecodeError:
                raise FormatError(f"{source} is not UTF-8 text") from None
        entries = []
        for number, line in enumerate(text.splitlines(), 1):
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            entry = _parse_line(stripped, f"{source} line {number}", number)
            if entry is not None:
                entries.append(entry)
        return cls(entries, source=source)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> AllowedSigners:
        """Read an allowed-signers file (at most 16 MiB)."""
        data = read_limited(path, MAX_ALLOWED_SIGNERS_FILE, "allowed signers file")
        return cls.parse(data, source=f"allowed signers file {path}")

    def check(
        self, principal: str, key: PublicKey, namespace: str, *, now: datetime | None = None
    ) -> AllowedSigner:
        """Return the line that lets ``principal`` sign ``namespace`` with ``key``.

        Raises:
            SignerNotAllowedError: no line does; the message says what is missing.
        """
        moment = now or datetime.now(UTC)
        fingerprint = key.fingerprint()
        for_principal = [
            e for e in self.entries if not e.cert_authority and _match_list(principal, e.principals)
        ]
        if not for_principal:
            raise SignerNotAllowedError(f"principal {principal!r} is not in {self.source}")
        with_key = [e for e in for_principal if e.public_key == key]
        if not with_key:
            raise SignerNotAllowedError(
                f"key {fingerprint} is not an allowed signer for {principal!r} in {self.source}"
            )
        in_namespace = [
            e for e in with_key if e.namespaces is None or _match_list(namespace, e.namespaces)
        ]
        if not in_namespace:
            raise SignerNotAllowedError(
                f"{self.source} does not allow {principal!r} to sign namespace {namespace!r} "
                f"(line {with_key[0].line}: namespaces={with_key[0].namespaces})"
            )
        for entry in in_namespace:
            if entry.valid_after is not None and moment < entry.valid_after:
                continue
            if entry.valid_before is not None and moment > entry.valid_before:
                continue
            return entry
        entry = in_namespace[0]
        raise SignerNotAllowedError(
            f"key {fingerprint} of {principal!r} is not valid now ({self.source} line "
            f"{entry.line}: valid-after {_when(entry.valid_after)}, "
            f"valid-before {_when(entry.valid_before)})"
        )

    def principals_for(self, key: PublicKey, namespace: str | None = None) -> list[str]:
        """The principal patterns of every line that holds ``key`` (``-Y find-principals``)."""
        return [
            e.principals
            for e in self.entries
            if not e.cert_authority
            and e.public_key == key
            and (namespace is None or e.namespaces is None or _match_list(namespace, e.namespaces))
        ]

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"AllowedSigners(source={self.source!r}, entries={len(self.entries)})"


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def _split_fields(line: str) -> list[str]:
    """Split on spaces outside double quotes (quotes are kept)."""
    fields: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        if ch in " \t" and not quoted:
            if current:
                fields.append("".join(current))
                current = []
            continue
        current.append(ch)
    if quoted:
        raise FormatError("unterminated double quote")
    if current:
        fields.append("".join(current))
    return fields


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _looks_like_key_type(field: str) -> bool:
    return field.startswith(("ssh-", "ecdsa-sha2-", "sk-"))


def _parse_line(line: str, where: str, number: int) -> AllowedSigner | None:
    try:
        fields = _split_fields(line)
    except FormatError as exc:
        raise FormatError(f"{where}: {exc}") from None
    if len(fields) < 3:
        raise FormatError(f"{where}: expected 'principals [options] keytype base64-key'")
    principals = _unquote(fields[0])
    if not principals:
        raise FormatError(f"{where}: empty principals")
    rest = fields[1:]
    options: dict[str, str | None] = {}
    if not _looks_like_key_type(rest[0]):
        options = _parse_options(rest[0], where)
        rest = rest[1:]
    if len(rest) < 2:
        raise FormatError(f"{where}: expected a key type and a base64 key after the options")
    key_type, key_b64 = rest[0], rest[1]
    try:
        key = PublicKey.from_bytes(f"{key_type} {key_b64}", what=where)
    except UnsupportedAlgorithmError:
        return None  # ssh-dss, security keys, certificates: cannot match a sealbox-verified key
    except KeyFormatError as exc:
        raise FormatError(str(exc)) from None
    namespaces = options.get("namespaces")
    return AllowedSigner(
        principals=principals,
        public_key=key,
        namespaces=None if namespaces is None else _unquote(namespaces),
        valid_after=_timestamp(options.get("valid-after"), where),
        valid_before=_timestamp(options.get("valid-before"), where),
        cert_authority="cert-authority" in options,
        line=number,
    )


_OPTIONS: Final = frozenset({"cert-authority", "namespaces", "valid-after", "valid-before"})


def _parse_options(text: str, where: str) -> dict[str, str | None]:
    options: dict[str, str | None] = {}
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    for part in parts:
        name, eq, value = part.partition("=")
        name = name.lower()
        if name not in _OPTIONS:
            raise FormatError(f"{where}: unknown option {name!r}")
        if (name == "cert-authority") == bool(eq):
            raise FormatError(f"{where}: option {name!r} is malformed")
        options[name] = _unquote(value) if eq else None
    return options


def _timestamp(value: str | None, where: str) -> datetime | None:
    if value is None:
        return None
    text = value.removesuffix("Z").removesuffix("z")
    fmt = {8: "%Y%m%d", 12: "%Y%m%d%H%M", 14: "%Y%m%d%H%M%S"}.get(len(text))
    moment = None
    if fmt is not None and text.isdigit():
        try:
            moment = datetime.strptime(text, fmt)
        except ValueError:
            moment = None
    if moment is None:
        raise FormatError(f"{where}: bad timestamp {value!r} (YYYYMMDD[Z] or YYYYMMDDHHMM[SS][Z])")
    if text != value:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone()  # local time, as ssh-keygen reads it


def _match(text: str, pattern: str) -> bool:
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, text, re.DOTALL) is not None


def _match_list(text: str, pattern_list: str) -> bool:
    """ssh_config(5) PATTERNS: any pattern matches and no negated (``!``) one does."""
    found = False
    for pattern in pattern_list.split(","):
        if pattern.startswith("!"):
            if _match(text, pattern[1:]):
                return False
        elif _match(text, pattern):
            found = True
    return found
