"""Server-side TLS sessions over memory buffers (pyOpenSSL), for servers that drive
their own connections, such as sealbox's HTTPS service.

Python's :mod:`ssl` module cannot name the client CAs a server accepts (OpenSSL's
``SSL_CTX_set_client_CA_list``): under mutual TLS its servers send an empty list, so a
client holding several certificates cannot choose one ("No client certificate CA names
sent"). pyOpenSSL, pyca's binding kept for exactly this use (TLS connections), can: the
context built here sends the subject names of the client CA file in every certificate
request. Everything else follows :func:`sealbox.tls.context.server_context`, whose
checks of the files run first, so a bad certificate, key or CA gives the same clear
:class:`~sealbox.exceptions.TLSConfigError`, and the context loads the very certificates
and key that were checked: TLS 1.2 or newer, TLS 1.2 suites with
ECDHE and an AEAD cipher (RFC 9325), no compression or renegotiation, strict X.509.

- :class:`ServerTLS`: the context new connections of one server get, replaced whole
  when the certificate is renewed (a pyOpenSSL context cannot change once a
  connection used it); open connections keep the one they began with.
- :class:`TLSSession`: one connection's session; bytes in with ``receive``, bytes out
  with ``outgoing``, the handshake, plaintext both ways, and the client's verified
  certificate as a :class:`ClientIdentity`.

Needs pyOpenSSL (the ``service`` extra).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID

from sealbox.exceptions import ConfigError, ExtraNotInstalledError, TLSConfigError
from sealbox.tls._load import quiet_encoding_warnings
from sealbox.tls.context import (
    TLS12_CIPHERS,
    CheckedCA,
    CheckedIdentity,
    checked_ca,
    checked_identity,
)

try:
    from OpenSSL import SSL, crypto
except ImportError as exc:  # pragma: no cover - the service extra brings it
    raise ExtraNotInstalledError("service", exc.name or "OpenSSL") from None

__all__ = [
    "ClientIdentity",
    "HandshakeRefusedError",
    "ServerTLS",
    "TLSClosedError",
    "TLSSession",
    "build_context",
]

ALPN: Final = b"http/1.1"  # the one protocol these sessions carry
_READ_SIZE: Final = 65536

# X.509 verification results (OpenSSL's X509_V_ERR_*) a refused client certificate
# most often has, worded as OpenSSL words them, for the log line of each refusal.
_VERIFY_ERRORS: Final = {
    2: "unable to get issuer certificate",
    7: "certificate signature failure",
    9: "certificate is not yet valid",
    10: "certificate has expired",
    18: "self-signed certificate",
    19: "self-signed certificate in certificate chain",
    20: "unable to get local issuer certificate",
    21: "unable to verify the first certificate",
    22: "certificate chain too long",
    23: "certificate revoked",
    24: "invalid CA certificate",
    25: "path length constraint exceeded",
    26: "unsuitable certificate purpose",
    27: "certificate not trusted",
    28: "certificate rejected",
    32: "key usage does not include certificate signing",
    47: "permitted subtree violation",
    48: "excluded subtree violation",
    79: "invalid or inconsistent certificate extension",
    # Refusals of the strict checks (X509_V_FLAG_X509_STRICT) hand-made certificates meet.
    85: "Missing Authority Key Identifier",
    86: "Missing Subject Key Identifier",
    87: "Empty Subject Alternative Name extension",
    88: "Subject empty and Subject Alt Name extension not critical",
    89: "Basic Constraints of CA cert not marked critical",
    90: "Authority Key Identifier marked critical",
}


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    """The verified client certificate of an mTLS connection.

    Attributes:
        common_name: the subject's CN (``""`` if none).
        dns_names: DNS names in subjectAltName.
        emails: email addresses in subjectAltName.
        uris: URIs in subjectAltName (SPIFFE IDs, for instance).
        issuer: the issuer's CN.
        serial: the serial number, hex.
        fingerprint: SHA-256 of the certificate (DER), hex.
        not_after: the expiry, as OpenSSL prints it.
        subject: the subject's distinguished name, as an RFC 4514 string (what
            RFC 8705 ``tls_client_auth`` matches a registered client on).
    """

    common_name: str
    dns_names: tuple[str, ...]
    emails: tuple[str, ...]
    uris: tuple[str, ...]
    issuer: str
    serial: str
    fingerprint: str
    not_after: str
    subject: str = ""

    @classmethod
    def from_certificate(cls, cert: x509.Certificate) -> ClientIdentity:
        """What a verified client certificate says.

        Raises:
            TLSConfigError: code ``client_certificate_unreadable``: its names cannot be
                read, or one holds a control character (a NUL, say), so it names nobody.
        """
        try:
            identity = cls._read(cert)
        except ValueError:
            # OpenSSL verifies a certificate without decoding its names: one whose CA
            # wrote bytes no name may hold (a dNSName with a non-ASCII byte) gets here.
            raise _unreadable("its subject or subjectAltName cannot be read") from None
        for name in (identity.common_name, *identity.dns_names, *identity.emails, *identity.uris):
            if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
                # "alice.test\0.evil.test": C code (and logs) read it as another name.
                raise _unreadable(f"the name {name!r} holds a control character")
        return identity

    @classmethod
    def _read(cls, cert: x509.Certificate) -> ClientIdentity:
        try:
            sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            sans = x509.SubjectAlternativeName([])
        with quiet_encoding_warnings():
            serial = cert.serial_number
        return cls(
            common_name=_common_name(cert.subject),
            dns_names=tuple(sans.get_values_for_type(x509.DNSName)),
            emails=tuple(sans.get_values_for_type(x509.RFC822Name)),
            uris=tuple(sans.get_values_for_type(x509.UniformResourceIdentifier)),
            issuer=_common_name(cert.issuer),
            serial=_serial_hex(serial),
            fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
            # As OpenSSL prints it (and Python's getpeercert() gives it).
            not_after=cert.not_valid_after_utc.strftime("%b %e %H:%M:%S %Y GMT"),
            subject=cert.subject.rfc4514_string(),
        )

    @classmethod
    def from_pem(cls, pem: str | bytes) -> ClientIdentity:
        """What a PEM certificate says (the first one of a chain), already verified by the server.

        Raises:
            TLSConfigError: not a PEM certificate.
        """
        try:
            data = pem.encode() if isinstance(pem, str) else pem
            with quiet_encoding_warnings():
                cert = x509.load_pem_x509_certificate(data)
        except ValueError:  # also UnicodeEncodeError: a str with a lone surrogate
            raise TLSConfigError("the client certificate is not a PEM certificate") from None
        return cls.from_certificate(cert)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "common_name": self.common_name,
            "dns_names": list(self.dns_names),
            "emails": list(self.emails),
            "uris": list(self.uris),
            "issuer": self.issuer,
            "serial": self.serial,
            "fingerprint": self.fingerprint,
            "not_after": self.not_after,
            "subject": self.subject,
        }


def _unreadable(why: str) -> TLSConfigError:
    return TLSConfigError(
        f"the client certificate names nobody: {why}",
        hint="have its CA issue a certificate with plain names (DNS names, email addresses)",
        code="client_certificate_unreadable",
    )


def _serial_hex(serial: int) -> str:
    # Whole bytes, upper case, as OpenSSL prints a serial (and getpeercert() gives it).
    digits = f"{serial:X}"
    return digits.zfill(len(digits) + len(digits) % 2)


def _common_name(name: x509.Name) -> str:
    values = name.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(values[0].value) if values else ""


class HandshakeRefusedError(Exception):
    """The TLS handshake failed; the message is the reason, for the log."""


class TLSClosedError(Exception):
    """The client ended the TLS session (close_notify) or broke it.

    Attributes:
        clean: the client sent close_notify.
        data: plaintext that arrived before the end.
    """

    def __init__(self, reason: str, data: bytes = b"", *, clean: bool = False) -> None:
        super().__init__(reason)
        self.clean = clean
        self.data = data


def build_context(cert: Path, key: Path, client_ca: Path | None, *, mtls: bool) -> SSL.Context:
    """A server context for these files, checked as ``server_context`` checks them.

    The context gets the certificates and key that were checked, not the files read
    again: a renewal that replaces them meanwhile is loaded at the next reload, never
    unchecked (an expired pair, a key of another certificate).

    Raises:
        TLSConfigError: a file is missing, unreadable, expired, of the wrong kind,
            or the key does not match the certificate.
        ConfigError: ``mtls`` without ``client_ca``.
    """
    if mtls and client_ca is None:
        raise ConfigError(
            "require_client_cert needs client_ca: the CA that issues the client certificates"
        )
    identity = checked_identity(
        cert, key, password=None, purpose=ExtendedKeyUsageOID.SERVER_AUTH, now=None
    )
    authorities = checked_ca(client_ca, "client CA file", None) if client_ca else None
    try:
        return _openssl_context(identity, authorities, mtls=mtls)
    except (SSL.Error, crypto.Error) as exc:
        # What the checks let through and OpenSSL refuses (a key below its security level).
        raise TLSConfigError(
            f"OpenSSL refused {identity.cert_source}: {_openssl_reason(exc)}",
            facts={"cert": os.fspath(cert), "key": os.fspath(key)},
        ) from None


def _openssl_context(
    identity: CheckedIdentity, authorities: CheckedCA | None, *, mtls: bool
) -> SSL.Context:
    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
    ctx.set_cipher_list(TLS12_CIPHERS.encode())
    ctx.set_options(
        SSL.OP_NO_COMPRESSION
        | SSL.OP_NO_RENEGOTIATION
        | SSL.OP_CIPHER_SERVER_PREFERENCE
        | SSL.OP_SINGLE_ECDH_USE
    )
    store = ctx.get_cert_store()
    assert store is not None  # a new context always has one
    store.set_flags(crypto.X509StoreFlags.X509_STRICT)
    leaf, *chain = identity.chain
    ctx.use_certificate(leaf)
    for extra in chain:
        ctx.add_extra_chain_cert(extra)
    ctx.use_privatekey(_openssl_key(identity.key))
    ctx.check_privatekey()
    if authorities is not None:
        # Where it verifies clients, OpenSSL refuses to resume a session (internal_error
        # alert, "session id context uninitialized") unless the context names one; a
        # resumed session keeps the identity its full handshake verified.
        ctx.set_session_id(_session_id_context(authorities.data, mtls=mtls))
        named: set[bytes] = set()
        for authority in authorities.certificates:
            store.add_cert(crypto.X509.from_cryptography(authority))
            # The names sent in the certificate request (RFC 8446 §4.2.4, RFC 5246 §7.4.4),
            # each once (old and new CA of a rotation may share one).
            subject = authority.subject.public_bytes()
            if subject not in named:
                named.add(subject)
                ctx.add_client_ca(authority)
        mode = SSL.VERIFY_PEER | (SSL.VERIFY_FAIL_IF_NO_PEER_CERT if mtls else 0)
        ctx.set_verify(mode, _note_verify_error)
    ctx.set_alpn_select_callback(_select_alpn)
    return ctx


def _openssl_key(key: PrivateKeyTypes) -> Any:
    # pyOpenSSL serves RSA, DSA, EC, Ed25519 and Ed448 keys; another type (X25519 cannot
    # sign) is refused as OpenSSL would refuse it.
    if not isinstance(
        key,
        rsa.RSAPrivateKey
        | dsa.DSAPrivateKey
        | ec.EllipticCurvePrivateKey
        | ed25519.Ed25519PrivateKey
        | ed448.Ed448PrivateKey,
    ):
        raise TLSConfigError(f"a {type(key).__name__} cannot sign a TLS handshake")
    return key


def _session_id_context(client_ca: bytes, *, mtls: bool) -> bytes:
    # What accepted the client: a session is resumed only under the same CA file and mode
    # (OpenSSL takes at most 32 bytes: a SHA-256).
    mode = b"required" if mtls else b"optional"
    return hashlib.sha256(b"sealbox server session\0" + mode + b"\0" + client_ca).digest()


def _select_alpn(_connection: SSL.Connection, offered: list[bytes]) -> Any:
    # Without a protocol in common, go on without ALPN, as Python's ssl servers do
    # (Any: the type of pyOpenSSL's marker is private).
    return ALPN if ALPN in offered else SSL.NO_OVERLAPPING_PROTOCOLS


def _note_verify_error(
    connection: SSL.Connection, _cert: crypto.X509, errnum: int, depth: int, ok: int
) -> bool:
    session = connection.get_app_data()
    if isinstance(session, TLSSession):
        session.verified_now = True
        if not ok and session.verify_error is None:
            session.verify_error = (errnum, depth)
    return bool(ok)


class ServerTLS:
    """The context new connections of one server get, replaced whole on renewal."""

    def __init__(self, cert: Path, key: Path, client_ca: Path | None, *, mtls: bool) -> None:
        self.cert = cert
        self.key = key
        self.client_ca = client_ca
        self.mtls = mtls
        self.context = build_context(cert, key, client_ca, mtls=mtls)

    def renewed(self) -> SSL.Context:
        """A context built from the files as they are now (raises as :func:`build_context`)."""
        return build_context(self.cert, self.key, self.client_ca, mtls=self.mtls)


class TLSSession:
    """The server side of one TLS session over memory buffers.

    Bytes from the network go in with :meth:`receive`; what must go out comes from
    :meth:`outgoing` (handshake messages, records, alerts).
    """

    def __init__(self, context: SSL.Context) -> None:
        self.context = context
        self.verify_error: tuple[int, int] | None = None
        # Whether a client certificate was verified in this handshake (not in a resumed one).
        self.verified_now = False
        self._identity: ClientIdentity | None = None
        self._conn = SSL.Connection(context, None)
        self._conn.set_app_data(self)
        self._conn.set_accept_state()

    def receive(self, data: bytes) -> None:
        """Bytes that arrived from the client (``b""``, a socket's end of file, is none)."""
        if data:  # OpenSSL's BIO_write of nothing fails, as a bare SSL.Error
            self._conn.bio_write(data)

    def handshake(self) -> bool:
        """Go on with the handshake; ``True`` once it is complete.

        Raises:
            HandshakeRefusedError: it failed (the alert, if any, is in :meth:`outgoing`).
        """
        try:
            self._conn.do_handshake()
        except SSL.WantReadError:
            return False
        except SSL.Error as exc:
            raise HandshakeRefusedError(self._reason(exc)) from None
        self._check_resumed_certificate()
        cert = self.peer_certificate()
        if cert is not None:
            # Read now, so that a certificate naming nobody is a refused handshake with
            # its reason, not an error in whatever asks who the client is.
            try:
                self._identity = ClientIdentity.from_certificate(cert)
            except TLSConfigError as exc:
                why = str(exc).removeprefix("the client certificate ")
                raise HandshakeRefusedError(f"client certificate refused: it {why}") from None
        return True

    def _check_resumed_certificate(self) -> None:
        # A resumed session brings the certificate its full handshake verified, unchecked
        # since, and lives up to two hours: one that lapsed meanwhile no longer identifies.
        cert = self.peer_certificate() if not self.verified_now else None
        if cert is None:
            return
        now = datetime.now(UTC)
        if now > cert.not_valid_after_utc:
            raise HandshakeRefusedError(
                "client certificate refused: certificate has expired (a resumed session)"
            )
        if now < cert.not_valid_before_utc:  # the clock went back
            raise HandshakeRefusedError(
                "client certificate refused: certificate is not yet valid (a resumed session)"
            )

    def read(self) -> bytes:
        """The plaintext the received records hold (``b""`` if none is complete yet).

        Raises:
            TLSClosedError: the client sent close_notify, or a record that does not verify.
        """
        chunks: list[bytes] = []
        while True:
            try:
                chunk = self._conn.recv(_READ_SIZE)
            except SSL.WantReadError:
                break
            except SSL.ZeroReturnError:
                raise TLSClosedError("close_notify", b"".join(chunks), clean=True) from None
            except SSL.Error as exc:
                raise TLSClosedError(_openssl_reason(exc), b"".join(chunks)) from None
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)

    def write(self, data: bytes) -> None:
        """Encrypt ``data`` (its records are then in :meth:`outgoing`).

        Raises:
            TLSClosedError: the session can no longer send.
        """
        view = memoryview(data)
        try:
            while view:
                view = view[self._conn.send(view) :]
        except SSL.Error as exc:
            raise TLSClosedError(_openssl_reason(exc)) from None

    def outgoing(self) -> bytes:
        """Everything waiting to be sent to the client."""
        chunks: list[bytes] = []
        while True:
            try:
                chunk = self._conn.bio_read(_READ_SIZE)
            except SSL.WantReadError:  # nothing (more) to send
                break
            chunks.append(chunk)
            if len(chunk) < _READ_SIZE:  # drained: spares a call that would raise
                break
        return b"".join(chunks)

    def close_notify(self) -> None:
        """Queue a close_notify alert (best effort)."""
        with contextlib.suppress(SSL.Error):
            self._conn.shutdown()

    def peer_certificate(self) -> x509.Certificate | None:
        """The client's verified certificate, if it sent one."""
        with quiet_encoding_warnings():
            return self._conn.get_peer_certificate(as_cryptography=True)

    def peer_identity(self) -> ClientIdentity | None:
        """What the client's verified certificate says, if it sent one.

        Raises:
            TLSConfigError: as :meth:`ClientIdentity.from_certificate` (not once
                :meth:`handshake` returned ``True``: it refuses such a certificate).
        """
        if self._identity is not None:
            return self._identity
        cert = self.peer_certificate()
        return None if cert is None else ClientIdentity.from_certificate(cert)

    def info(self, name: str) -> Any:
        """What asyncio's ``get_extra_info`` gives for ``cipher`` and ``tls_version``."""
        if name == "cipher":
            return (
                self._conn.get_cipher_name(),
                self._conn.get_cipher_version(),
                self._conn.get_cipher_bits(),
            )
        if name == "tls_version":
            return self._conn.get_protocol_version_name()
        return None

    def _reason(self, exc: SSL.Error) -> str:
        if self.verify_error is not None:
            errnum, depth = self.verify_error
            what = _VERIFY_ERRORS.get(errnum, f"verification error {errnum}")
            where = "" if depth == 0 else f" (at depth {depth} of its chain)"
            return f"client certificate refused: {what}{where}"
        reason = _openssl_reason(exc)
        if reason == "peer did not return a certificate":
            return "no client certificate (mutual TLS is required)"
        return reason


def _openssl_reason(exc: SSL.Error | crypto.Error) -> str:
    """OpenSSL's reason text of the last error in ``exc`` (``SSL.Error`` holds a list)."""
    errors = exc.args[0] if exc.args and isinstance(exc.args[0], list) else []
    for entry in reversed(errors):
        if isinstance(entry, tuple) and len(entry) == 3 and entry[2]:
            return str(entry[2])
    return type(exc).__name__
