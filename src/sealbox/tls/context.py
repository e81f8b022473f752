"""``ssl.SSLContext`` builders with safe settings and clear errors.

Both builders follow RFC 9325 (BCP 195, recommendations for TLS): TLS 1.2 at
least (RFC 8996 retired TLS 1.0 and 1.1), TLS 1.2 cipher suites limited to
ephemeral ECDH with an AEAD cipher (section 4.2), no TLS compression (section
3.3), no renegotiation, and strict X.509 checks. A client context verifies the
server's certificate and host name (RFC 9110 section 4.3.4, RFC 6125); a server
context can require client certificates from a given CA (mutual TLS).

Files are checked before OpenSSL sees them, so a mistake gives a
:class:`~sealbox.exceptions.TLSConfigError` naming the file and the problem: a
missing file, a key that is not the certificate's, an expired certificate, an
encrypted key without its passphrase, a server certificate used as a client
certificate (or the reverse), a leaf certificate passed as a CA.

Example::

    from sealbox.tls.context import client_context, server_context

    server = server_context("tls/server.crt", "tls/server.key",
                            client_ca="ca/ca.crt", require_client_cert=True)
    client = client_context(ca="ca/ca.crt", cert="tls/alice.crt", key="tls/alice.key")

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import contextlib
import os
import shlex
import ssl
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final, NoReturn

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from sealbox.exceptions import ConfigError, TLSConfigError
from sealbox.hazmat.kdf import passphrase_bytes
from sealbox.tls import _load
from sealbox.tls._load import Password
from sealbox.tls._resumed import check_resumed_sessions
from sealbox.tls.pinning import pin_context

__all__ = [
    "TLS12_CIPHERS",
    "client_context",
    "load_server_certificate",
    "server_context",
]

# RFC 9325 section 4.2: TLS 1.2 suites with forward secrecy and an AEAD cipher only.
# (TLS 1.3 suites are all AEAD with (EC)DHE and are not affected by this string.)
TLS12_CIPHERS: Final = "ECDHE+AESGCM:ECDHE+CHACHA20"

StrPath = str | os.PathLike[str]


def client_context(
    ca: StrPath | None = None,
    cert: StrPath | None = None,
    key: StrPath | None = None,
    *,
    password: Password | None = None,
    pins: Iterable[str] | str = (),
    now: datetime | None = None,
) -> ssl.SSLContext:
    """Build a context for a TLS client: server certificate and host name always checked.

    Args:
        ca: PEM file of the CA certificate(s) to trust *instead of* the system's
            trust store (e.g. ``DIR/ca.crt`` of a sealbox CA). Omitted: the system's.
        cert: the client certificate for mutual TLS (PEM, leaf first, then chain).
        key: its private key (PEM). Omitted: read from ``cert``.
        password: passphrase of an encrypted ``key``.
        pins: SPKI pins (``sha256//BASE64``); when given, the server's key must also
            match one of them (see :mod:`sealbox.tls.pinning`).
        now: the time used to check validity (tests); default: now.

    Returns:
        An ``ssl.SSLContext`` for ``PROTOCOL_TLS_CLIENT`` (with pins, one set up by
        :func:`~sealbox.tls.pinning.pin_context`).

    Raises:
        TLSConfigError: a file is missing, unreadable, expired, of the wrong kind,
            or the key does not match the certificate or cannot be decrypted.
        ConfigError: a pin is malformed.
    """
    if not isinstance(pins, str | Iterable):
        raise TypeError("pins must be a str like 'sha256//BASE64' or a list of them")
    pin_list = [pins] if isinstance(pins, str) else list(pins)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if pin_list:
        # Pins given that name no pin (`pins=[os.environ.get("PIN", "")]`, " ", ";") would
        # silently turn pinning off: pin_context refuses an empty set.
        pin_context(ctx, pin_list)
    _harden(ctx)
    ctx.check_hostname = True
    # RFC 9525 §6.3: the identity is in the subjectAltName only, never the subject CN.
    ctx.hostname_checks_common_name = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    if ca is None:
        ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
    else:
        _load_ca(ctx, ca, "CA file", now)
    if cert is not None:
        _load_identity(
            ctx,
            cert=cert,
            key=key,
            password=password,
            purpose=ExtendedKeyUsageOID.CLIENT_AUTH,
            now=now,
        )
    elif key is not None:
        raise ConfigError("a client key was given without its certificate (cert=...)")
    return ctx


def server_context(
    cert: StrPath,
    key: StrPath | None = None,
    client_ca: StrPath | None = None,
    require_client_cert: bool = False,
    *,
    password: Password | None = None,
    now: datetime | None = None,
) -> ssl.SSLContext:
    """Build a context for a TLS server, optionally verifying client certificates.

    Refused handshakes are not logged: an ``SSLContext`` has no hook for them, and the
    server that runs the handshake (asyncio, uvloop) drops them silently outside debug
    mode. :mod:`sealbox.tls.server_session` drives handshakes so that each refusal can be
    logged with its reason (the service does).

    Args:
        cert: the server certificate (PEM, leaf first, then chain).
        key: its private key (PEM). Omitted: read from ``cert``.
        client_ca: PEM file of the CA whose client certificates are accepted.
        require_client_cert: refuse clients without a valid certificate (mutual
            TLS); without it, a client certificate is verified if one is sent. A
            session resumed once its client certificate has expired is refused (see
            :mod:`sealbox.tls._resumed`).
        password: passphrase of an encrypted ``key``.
        now: the time used to check validity (tests); default: now.

    Raises:
        TLSConfigError: a file is missing, unreadable, expired, of the wrong kind,
            or the key does not match the certificate or cannot be decrypted.
        ConfigError: ``require_client_cert`` without ``client_ca``.
    """
    if require_client_cert and client_ca is None:
        raise ConfigError(
            "require_client_cert needs client_ca: the CA that issues the client certificates"
        )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _harden(ctx)
    ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_SINGLE_ECDH_USE
    load_server_certificate(ctx, cert, key, password=password, now=now)
    if client_ca is not None:
        _load_ca(ctx, client_ca, "client CA file", now)
        ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
        # A resumed session skips verification: not past its client certificate's expiry.
        check_resumed_sessions(ctx)
    return ctx


def load_server_certificate(
    ctx: ssl.SSLContext,
    cert: StrPath,
    key: StrPath | None = None,
    *,
    password: Password | None = None,
    now: datetime | None = None,
) -> None:
    """Check and load a server certificate into ``ctx``, replacing the one it had.

    New handshakes use the new certificate at once; open connections are not
    affected. A server renews its certificate without a restart by calling this
    on its running context. Nothing changes in ``ctx`` if a check fails, or if OpenSSL
    refuses the pair; it loads the bytes that were checked, not the files as a renewal
    may have rewritten them since.

    Raises:
        TLSConfigError: as for :func:`server_context`; code ``key_type_changed`` for a
            key of another type than the certificate ``ctx`` serves (a context keeps one
            certificate per key type and would go on serving the old one).
    """
    _load_identity(
        ctx,
        cert=cert,
        key=key,
        password=password,
        purpose=ExtendedKeyUsageOID.SERVER_AUTH,
        now=now,
    )


def _harden(ctx: ssl.SSLContext) -> None:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(TLS12_CIPHERS)
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT


def _load_ca(ctx: ssl.SSLContext, path: StrPath, what: str, now: datetime | None) -> None:
    checked = checked_ca(path, what, now)
    # The certificates checked, not the file read again: a CA bundle rewritten meanwhile
    # (a rotation) never puts an unchecked CA in the context.
    cadata = b"".join(cert.public_bytes(Encoding.DER) for cert in checked.certificates)
    try:
        ctx.load_verify_locations(cadata=cadata)
    except (ssl.SSLError, OSError) as exc:
        raise TLSConfigError(f"OpenSSL refused {what} {os.fspath(path)}: {_reason(exc)}") from None


def checked_ca(path: StrPath, what: str, now: datetime | None) -> CheckedCA:
    """Read and check a CA file (for :mod:`sealbox.tls.server_session`, which loads the
    checked certificates themselves)."""
    data = _load.read_file(path, what)
    name = os.fspath(path)
    source = f"{what} {name}"
    lapsed: list[TLSConfigError] = []
    certificates = _load.parse_certificates(data, source, path=name)
    _refuse_der(data, source, name)
    for cert in certificates:
        if not _is_ca(cert):
            raise TLSConfigError(
                f"{source} holds a certificate that is not a CA ({cert.subject.rfc4514_string()})",
                hint="pass the CA certificate (for a sealbox CA: DIR/ca.crt), not a leaf",
            )
        try:
            _load.check_validity(
                cert, f"CA certificate {cert.subject.rfc4514_string()} in {source}", now
            )
        except TLSConfigError as exc:
            lapsed.append(exc)
    # A bundle (the system's, or old and new CA side by side during a rotation) may hold
    # a retired root beside valid ones: OpenSSL never builds a chain through it. Only a
    # file with no valid CA at all is refused.
    if lapsed and len(lapsed) == len(certificates):
        first = lapsed[0]
        if first.code != "certificate_expired":
            raise first  # not valid yet: its hint (the clock) stands
        raise TLSConfigError(
            str(first),
            hint="a CA certificate cannot be renewed in place: make a new CA, or pass the "
            "file of the CA that replaced it",
            code="ca_expired",
        )
    return CheckedCA(data, certificates)


@dataclass(frozen=True, slots=True)
class CheckedCA:
    """A CA file as it was read and checked: its bytes and certificates."""

    data: bytes
    certificates: list[x509.Certificate]


@dataclass(frozen=True, slots=True)
class CheckedIdentity:
    """A certificate and its key as they were read and checked: what gets loaded, not the
    files, which a renewal may have rewritten since."""

    chain: list[x509.Certificate]
    key: PrivateKeyTypes
    cert_data: bytes
    key_data: bytes
    cert_source: str
    key_source: str
    kind: str  # the key's type: RSA, ECDSA, Ed25519…


def checked_identity(
    cert: StrPath,
    key: StrPath | None,
    *,
    password: Password | None,
    purpose: x509.ObjectIdentifier,
    now: datetime | None,
) -> CheckedIdentity:
    """Read and check a certificate and its key (for :mod:`sealbox.tls.server_session`
    too, which loads the checked objects into its pyOpenSSL context)."""
    cert_name = os.fspath(cert)
    cert_data = _load.read_file(cert, "certificate file")
    cert_source = f"certificate file {cert_name}"
    chain = _load.parse_certificates(cert_data, cert_source, path=cert_name)
    _refuse_der(cert_data, cert_source, cert_name)
    leaf = chain[0]
    key_path = cert if key is None else key
    key_name = os.fspath(key_path)
    key_data = _load.read_file(key_path, "key file")
    if key is None and b"PRIVATE KEY-----" not in key_data:
        raise TLSConfigError(
            f"{cert_source} holds no private key", hint="pass the key file too (key=...)"
        )
    key_source = f"key file {key_name}"
    private_key = _load.parse_private_key(key_data, key_source, password, path=key_name)
    _refuse_disorder(chain, private_key.public_key(), cert_source, key_source)
    # Before the key: a CA certificate given with a leaf's key is the wrong certificate,
    # which "a key that does not match" would not say.
    _refuse_ca_as_leaf(leaf, purpose, cert_source, cert_name)
    _load.check_key_matches(
        leaf,
        private_key,
        cert_source,
        key_source,
        facts={"cert": cert_name, "key": key_name},
    )
    _check_purpose(leaf, purpose, cert_source)
    _load.check_validity(leaf, f"the certificate in {cert_source}", now)
    return CheckedIdentity(
        chain=chain,
        key=private_key,
        cert_data=cert_data,
        key_data=key_data,
        cert_source=cert_source,
        key_source=key_source,
        kind=_key_kind(private_key),
    )


def _load_identity(
    ctx: ssl.SSLContext,
    *,
    cert: StrPath,
    key: StrPath | None,
    password: Password | None,
    purpose: x509.ObjectIdentifier,
    now: datetime | None,
) -> None:
    checked = checked_identity(cert, key, password=password, purpose=purpose, now=now)
    cert_source, key_source, kind = checked.cert_source, checked.key_source, checked.kind
    key_path = cert if key is None else key
    serving = _SERVING.get(ctx) if purpose == ExtendedKeyUsageOID.SERVER_AUTH else None
    if serving is not None and serving != kind:
        raise TLSConfigError(
            f"{cert_source} has an {kind} key and the context serves an {serving} "
            "certificate: a context keeps one certificate per key type, so it would go on "
            f"serving the old {serving} one",
            hint="build a new context with server_context() for the new pair and give it "
            "to the server (restart it)",
            code="key_type_changed",
            facts={"serving": serving, "new": kind},
        )

    secret = passphrase_bytes(password) if password is not None else None

    def give_password() -> bytes:
        # Always a callback: OpenSSL would otherwise prompt on the terminal.
        if secret is None:
            _no_password(key_source, os.fspath(key_path))
        return secret

    with _checked_files(checked.cert_data, checked.key_data, cert, key_path) as files:
        # OpenSSL replaces the certificate before it loads the chain and the key: one it
        # refuses halfway (a CA key below its security level) would leave ctx serving a
        # certificate without its key. A scratch context takes the refusal instead.
        for target in (ssl.SSLContext(ctx.protocol), ctx):
            try:
                target.load_cert_chain(files[0], files[1], password=give_password)
            except (ssl.SSLError, OSError) as exc:
                raise TLSConfigError(f"OpenSSL refused {cert_source}: {_reason(exc)}") from None
    if purpose == ExtendedKeyUsageOID.SERVER_AUTH:
        _SERVING[ctx] = kind


# The key type of the certificate each server context was given here. OpenSSL keeps one
# certificate per key type (RSA, ECDSA, Ed25519…) and Python cannot remove one, so a
# reload with another type would leave the old certificate served beside the new.
_SERVING: Final[weakref.WeakKeyDictionary[ssl.SSLContext, str]] = weakref.WeakKeyDictionary()


def _key_kind(key: object) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        return "RSA"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "ECDSA"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PrivateKey):
        return "Ed448"
    return type(key).__name__


@contextlib.contextmanager
def _checked_files(
    cert_data: bytes, key_data: bytes, cert: StrPath, key: StrPath
) -> Iterator[tuple[str, str]]:
    """Paths OpenSSL reads the checked bytes from, not the files that may have changed
    since (a renewal writing them): anonymous memory files where the system has them."""
    if not hasattr(os, "memfd_create") or not Path("/proc/self/fd").is_dir():
        yield os.fspath(cert), os.fspath(key)
        return
    fds: list[int] = []
    try:
        for data in (cert_data, key_data):
            fds.append(os.memfd_create("sealbox-tls", os.MFD_CLOEXEC))
            view = memoryview(data)
            while view:
                view = view[os.write(fds[-1], view) :]
        yield f"/proc/self/fd/{fds[0]}", f"/proc/self/fd/{fds[1]}"
    finally:
        for fd in fds:
            os.close(fd)


def _refuse_der(data: bytes, source: str, path: str) -> None:
    # OpenSSL reads only PEM here; refused now, it would say "pem lib" or "no certificate".
    if b"-----BEGIN" not in data:
        pem = shlex.quote(f"{path}.pem")
        raise TLSConfigError(
            f"{source} is a DER certificate; TLS contexts read PEM files",
            hint=f"convert it: openssl x509 -inform DER -in {shlex.quote(path)} -out {pem}, "
            f"then give {pem}",
            code="der_certificate",
            facts={"path": path},
        )


def _refuse_disorder(
    chain: list[x509.Certificate], public_key: object, source: str, key_source: str
) -> None:
    # A chain with its leaf after a CA would otherwise be "a key that does not match".
    if chain[0].public_key() == public_key:
        return
    for cert in chain[1:]:
        if cert.public_key() != public_key:
            continue
        if _is_ca(cert) and not _is_ca(chain[0]):
            # The leaf is first: the key is its CA's, not a misordered chain.
            raise TLSConfigError(
                f"{key_source} is the key of the CA certificate in {source} "
                f"({cert.subject.rfc4514_string()}), not of its leaf",
                hint="use the leaf's own key: the .key file written together with the .crt "
                "file (a CA's key stays with the CA)",
                code="ca_key_as_leaf_key",
            )
        raise TLSConfigError(
            f"{source} lists its certificates out of order: the key's certificate "
            f"({cert.subject.rfc4514_string()}) must come first",
            hint="put the leaf certificate first, then the CA certificates above it",
            code="chain_out_of_order",
        )


def _no_password(source: str, path: str) -> NoReturn:
    raise TLSConfigError(
        f"{source} is encrypted and no passphrase was given",
        hint="pass the passphrase (password=...), or use an unencrypted key file",
        code="key_encrypted",
        facts={"path": path},
    )


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _refuse_ca_as_leaf(
    cert: x509.Certificate, purpose: x509.ObjectIdentifier, source: str, path: str
) -> None:
    if _is_ca(cert):
        raise TLSConfigError(
            f"{source} starts with a CA certificate, not a "
            f"{'server' if purpose == ExtendedKeyUsageOID.SERVER_AUTH else 'client'} certificate",
            hint="use a leaf certificate with its key (the .crt file written together with "
            "the .key file), not the CA's certificate",
            code="ca_certificate_as_leaf",
            facts={"path": path},
        )


def _check_purpose(cert: x509.Certificate, purpose: x509.ObjectIdentifier, source: str) -> None:
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return
    if purpose in usages or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in usages:
        return
    if purpose == ExtendedKeyUsageOID.SERVER_AUTH:
        raise TLSConfigError(
            f"{source} is not a server certificate (its extended key usage has no serverAuth)",
            hint="use a certificate issued for a server (serverAuth)",
            code="not_a_server_certificate",
        )
    raise TLSConfigError(
        f"{source} is not a client certificate (its extended key usage has no clientAuth)",
        hint="use a certificate issued for a client (clientAuth)",
        code="not_a_client_certificate",
    )


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None)
    return str(reason or type(exc).__name__).lower().replace("_", " ")
