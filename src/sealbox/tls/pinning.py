"""SPKI pinning: compute, parse and enforce pins of a server's public key.

A pin is the SHA-256 digest of the DER ``SubjectPublicKeyInfo`` of a certificate
(RFC 5280 section 4.1.2.7), written ``sha256//`` plus its standard base64: the
form of RFC 7469 section 2.4 that curl's ``--pinnedpubkey`` takes. It names a key,
not a certificate, so it survives renewals that keep the key; list the pin of a
backup key next to the current one to be able to change keys without an outage.

:func:`pin_context` makes an ``ssl.SSLContext`` check the server's leaf key
against its pins right after the handshake, before the socket (or the
``SSLObject`` used by asyncio, anyio and trio) lets any application byte out. It
sets the context's :attr:`~ssl.SSLContext.sslsocket_class` and
:attr:`~ssl.SSLContext.sslobject_class` (the standard library's hook for custom
TLS objects), so every library that takes an ``SSLContext`` (httpx2, urllib,
asyncio streams, websockets) gets the check, and the context stays a plain
``ssl.SSLContext`` (anyio, for one, moves ``wrap_bio`` to a worker thread for any
other type).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import os
import socket
import ssl
from collections.abc import Iterable
from typing import Final

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from sealbox._util.pem import first_block
from sealbox.exceptions import (
    ConfigError,
    KeyFormatError,
    PinMismatchError,
    TLSConfigError,
    TLSError,
)
from sealbox.tls import _load
from sealbox.tls._checked import CheckedObject, CheckedSocket

__all__ = [
    "PIN_PREFIX",
    "check_pin",
    "context_pins",
    "fetch_certificate",
    "parse_pin",
    "parse_pins",
    "pin_context",
    "pin_from_bytes",
    "pin_from_file",
    "spki_pin",
]

PIN_PREFIX: Final = "sha256//"
_DIGEST_SIZE: Final = 32


def spki_pin(subject: x509.Certificate | PublicKeyTypes | bytes) -> str:
    """Return the pin ``sha256//BASE64`` of a certificate's or a key's public key.

    Args:
        subject: a certificate, a public key, or a certificate in DER form.
    """
    return PIN_PREFIX + base64.b64encode(_spki_digest(subject)).decode()


def pin_from_file(path: str | os.PathLike[str]) -> str:
    """Return the pin of a certificate file (PEM or DER; the first certificate) or PEM public key.

    Raises:
        TLSConfigError: the file is missing, unreadable, or holds neither.
    """
    return pin_from_bytes(_load.read_file(path, "file"), os.fspath(path))


def pin_from_bytes(data: bytes, source: str = "the input") -> str:
    """Return the pin of a certificate (PEM or DER; the first one) or PEM public key in ``data``.

    ``source`` names where ``data`` came from in error messages.

    Raises:
        TLSConfigError: ``data`` holds neither.
    """
    if b"-----BEGIN PUBLIC KEY-----" in data:
        # The DER as written, not pyca's re-encoding of the key (see _certificate_spki).
        spki = _pem_public_key(data[data.index(b"-----BEGIN PUBLIC KEY-----") :])
        if spki is None:
            raise TLSConfigError(f"{source} holds a PEM public key that cannot be parsed")
        return PIN_PREFIX + base64.b64encode(hashlib.sha256(spki).digest()).decode()
    if b"PRIVATE KEY-----" in data and b"-----BEGIN CERTIFICATE-----" not in data:
        # (A certificate and its key in one file, as server_context takes: pin the certificate.)
        raise TLSConfigError(
            f"{source} is a private key",
            hint="pin its certificate, or its public key ('openssl pkey -pubout')",
        )
    return spki_pin(_load.parse_certificates(data, source)[0])


def _pem_public_key(data: bytes) -> bytes | None:
    """The DER of the PEM public key ``data`` starts with, if it is one pyca reads."""
    try:
        block = first_block(data, "the public key")
        if block is not None:
            serialization.load_der_public_key(block.der)
    except (KeyFormatError, ValueError, UnsupportedAlgorithm):
        return None
    return None if block is None else block.der


def parse_pin(text: str) -> bytes:
    """Return the 32-byte digest of a pin written ``sha256//BASE64``.

    Raises:
        ConfigError: ``text`` is not such a pin (the message says what is wrong).
    """
    if not isinstance(text, str):
        raise TypeError("a pin must be a str like 'sha256//BASE64'")
    value = text.strip()
    if not value.startswith(PIN_PREFIX):
        raise ConfigError(
            f"pin {text!r} does not start with {PIN_PREFIX!r}",
            hint="compute pins with spki_pin() (SPKI SHA-256, base64)",
            code="bad_pin",
        )
    try:
        digest = base64.b64decode(value.removeprefix(PIN_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(
            f"pin {text!r} is not valid base64",
            hint="compute pins with spki_pin() (SPKI SHA-256, base64)",
            code="bad_pin",
        ) from None
    if len(digest) != _DIGEST_SIZE:
        raise ConfigError(
            f"pin {text!r} holds {len(digest)} bytes; a SHA-256 pin holds {_DIGEST_SIZE}",
            hint="compute pins with spki_pin() (SPKI SHA-256, base64)",
            code="bad_pin",
        )
    return digest


def parse_pins(pins: Iterable[str] | str) -> frozenset[bytes]:
    """Parse several pins; a single string may list them separated by ``;`` as curl does."""
    if not isinstance(pins, str | Iterable):
        raise TypeError("pins must be a str like 'sha256//BASE64' or a list of them")
    items = [pins] if isinstance(pins, str) else list(pins)
    return frozenset(
        parse_pin(part)
        for item in items
        for part in (item.split(";") if isinstance(item, str) else [item])
        if not isinstance(part, str) or part.strip()
    )


def check_pin(
    certificate_der: bytes | None, pins: frozenset[bytes], server: str | None = None
) -> None:
    """Raise :class:`PinMismatchError` unless the certificate's key is one of ``pins``.

    ``server`` (the name connected to) is named in the hint and in ``facts["server"]``.

    .. versionchanged:: 0.1.0
       ``server``.
    """
    who = "the server" if server is None else server
    facts = {} if server is None else {"server": server}
    if certificate_der is None:
        error = PinMismatchError("(no certificate)", hint=f"{who} sent no certificate")
    elif _der_digest(certificate_der) not in pins:
        seen = spki_pin(certificate_der)
        error = PinMismatchError(
            seen,
            hint=f"if {who} changed its key on purpose, add its new pin {seen} to the pin list",
        )
    else:
        return
    error.facts.update(facts)
    raise error


class _PinnedSocket(CheckedSocket):
    """An SSLSocket that checks the peer's key after the handshake and before any data."""

    _sealbox_pins: frozenset[bytes] = frozenset()

    def _sealbox_verify(self) -> None:
        check_pin(self.getpeercert(binary_form=True), self._sealbox_pins, self.server_hostname)


class _PinnedObject(CheckedObject):
    """An SSLObject (memory-BIO TLS, used by asyncio/anyio/trio) with the same check."""

    _sealbox_pins: frozenset[bytes] = frozenset()

    def _sealbox_verify(self) -> None:
        check_pin(self.getpeercert(binary_form=True), self._sealbox_pins, self.server_hostname)


def pin_context(context: ssl.SSLContext, pins: Iterable[str] | str) -> ssl.SSLContext:
    """Make a client context also require the server's key to match one of ``pins``.

    The context's usual certificate and host name checks still run first: a pin
    narrows what is trusted, it never widens it. The check runs right after each
    handshake, and a mismatch raises :class:`~sealbox.exceptions.PinMismatchError`
    before any application data is written or read.
    :func:`sealbox.tls.context.client_context` calls this when given ``pins``.

    Args:
        context: a client context (``PROTOCOL_TLS_CLIENT``); changed in place.
        pins: one or more ``sha256//BASE64`` pins (a string may hold several,
            separated by ``;``).

    Returns:
        ``context`` itself.

    Raises:
        ConfigError: a pin is malformed, or there is none.
    """
    digests = parse_pins(pins)
    if not digests:
        raise ConfigError("pinning needs at least one pin")
    if context.sslsocket_class is not ssl.SSLSocket or context.sslobject_class is not ssl.SSLObject:
        raise ConfigError("this context already uses custom TLS socket classes")
    # Subclasses per context carry its pins; the context itself stays an ssl.SSLContext.
    attrs = {"_sealbox_pins": digests}
    context.sslsocket_class = type("PinnedSSLSocket", (_PinnedSocket,), attrs)
    context.sslobject_class = type("PinnedSSLObject", (_PinnedObject,), attrs)
    return context


def context_pins(context: ssl.SSLContext) -> list[str]:
    """The pins a context enforces (``sha256//BASE64``, sorted); empty if none."""
    digests: frozenset[bytes] = getattr(context.sslobject_class, "_sealbox_pins", frozenset())
    return sorted(PIN_PREFIX + base64.b64encode(d).decode() for d in digests)


def fetch_certificate(
    host: str,
    port: int,
    *,
    context: ssl.SSLContext | None = None,
    verify: bool = True,
    timeout: float = 10.0,
    server_name: str | None = None,
) -> x509.Certificate:
    """Connect to ``host:port`` over TLS and return the server's leaf certificate.

    Args:
        host: the server's name or address (also sent as SNI and checked against the
            certificate, unless ``server_name`` is given).
        port: TCP port.
        context: a client context (e.g. :func:`~sealbox.tls.context.client_context`
            with a private CA); the system's trust store when omitted.
        verify: with ``False``, read the certificate without checking it (trust on
            first use: compare the pin with one obtained another way).
        timeout: seconds for the connection and the handshake.
        server_name: the name to send as SNI and to check the certificate against, for a
            server reached by an address or another name than its certificate's.

    Raises:
        TLSError: the connection or the handshake failed (the reason is in the message).

    .. versionchanged:: 0.1.0
       ``server_name``.
    """
    if not verify:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # only reads the key; nothing is sent
    elif context is None:
        from sealbox.tls.context import client_context

        context = client_context()
    host = host.strip("[]")
    name = server_name or host
    for text in (host, name):
        _check_host_name(text, host, port)
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=name) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except ssl.SSLCertVerificationError as exc:
        from sealbox.tls.client import failed_check

        check = failed_check(exc)
        raise TLSError(
            f"{host}:{port}: certificate verification failed: {exc.verify_message}",
            hint=_UNVERIFIED_HINTS.get(
                check, "pass the CA that issued it, or verify=False to read an unverified key"
            ),
            code="peer_unverified",
            facts={"failed": check},  # the CLI's hint follows it
        ) from None
    except (OSError, ssl.SSLError) as exc:
        from sealbox.tls.client import tls_failure

        # OpenSSL's alert names (SSLV3_ALERT_HANDSHAKE_FAILURE) in words, where it is TLS.
        failure = tls_failure(exc)
        reason = (
            failure.reason
            if failure is not None
            else getattr(exc, "reason", None) or exc.strerror or type(exc).__name__
        )
        raise TLSError(
            f"cannot fetch the certificate of {host}:{port}: {reason}",
            hint=failure.hint if failure is not None else None,
        ) from None
    if der is None:  # pragma: no cover - a TLS server always sends a certificate here
        raise TLSError(f"{host}:{port} sent no certificate")
    return x509.load_der_x509_certificate(der)


# A certificate for another name, or out of its dates: no other CA fixes these.
_UNVERIFIED_HINTS: Final = {
    "name": "give the name its certificate holds (server_name=, --servername), or "
    "verify=False to read an unverified key",
    "dates": "the server's certificate must be renewed, or a clock is wrong; verify=False "
    "reads an unverified key",
}


def _check_host_name(text: str, host: str, port: int) -> None:
    # The socket and ssl modules encode names with IDNA: a label that is empty or over 63
    # characters would escape from them as a bare UnicodeError, a NUL as a TypeError.
    try:
        ok = "\0" not in text and bool(text.encode("idna"))
    except UnicodeError:
        ok = False
    if not ok:
        raise TLSError(
            f"cannot fetch the certificate of {host}:{port}: {text!r} is not a valid host name"
        )


def _spki_digest(subject: x509.Certificate | PublicKeyTypes | bytes) -> bytes:
    if isinstance(subject, bytes | bytearray | memoryview):
        return _der_digest(bytes(subject))
    if isinstance(subject, x509.Certificate):
        return hashlib.sha256(_certificate_spki(subject)).digest()
    spki = subject.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).digest()


def _certificate_spki(certificate: x509.Certificate) -> bytes:
    """The certificate's SubjectPublicKeyInfo, byte for byte as the certificate holds it.

    RFC 7469 section 2.4 hashes these bytes, as curl's ``--pinnedpubkey`` and the openssl
    pipeline do. pyca's ``public_bytes()`` writes the key anew, which for a compressed EC
    point (written uncompressed) or an RSA-PSS key (written as rsaEncryption) gives other
    bytes, and a pin no other tool computes.
    """
    tbs = certificate.tbs_certificate_bytes  # DER, already parsed by pyca
    _, offset, _ = _der_element(tbs, 0)  # into the TBSCertificate SEQUENCE
    tag, _, end = _der_element(tbs, offset)
    if tag == 0xA0:  # the optional [0] version
        offset = end
    # serialNumber, signature, issuer, validity, subject; then subjectPublicKeyInfo.
    for _ in range(5):
        offset = _der_element(tbs, offset)[2]
    tag, _, end = _der_element(tbs, offset)
    if tag != 0x30 or end > len(tbs):  # pragma: no cover - pyca parsed this certificate
        raise ValueError("the certificate has no SubjectPublicKeyInfo where X.509 puts it")
    return tbs[offset:end]


def _der_element(data: bytes, offset: int) -> tuple[int, int, int]:
    """The tag, content offset and end offset of the DER element at ``offset``."""
    tag, length = data[offset], data[offset + 1]
    start = offset + 2
    if length & 0x80:  # long form: the next (length & 0x7F) bytes hold the length
        count = length & 0x7F
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    return tag, start, start + length


@functools.lru_cache(maxsize=64)
def _der_digest(der: bytes) -> bytes:
    # Cached: a client reconnecting to the same server sees the same certificate bytes.
    return _spki_digest(x509.load_der_x509_certificate(der))
