"""httpx2 clients with safe TLS settings, mutual TLS and SPKI pinning.

:func:`secure_client` and :func:`secure_async_client` return ordinary
``httpx2.Client`` / ``httpx2.AsyncClient`` objects whose ``verify`` is an
``ssl.SSLContext`` from :func:`sealbox.tls.context.client_context`: TLS 1.2 or
newer, certificate and host name always verified, optionally a private CA, a
client certificate (mutual TLS) and pins.

With pins, the server's public key is checked right after the handshake and
before a single byte of the request is written (see :mod:`sealbox.tls.pinning`):
a mismatch raises :class:`~sealbox.exceptions.PinMismatchError` from the call
that opened the connection (``client.get(...)`` etc.) and the connection is
closed. Pins are checked on every new connection, including after redirects and
on reconnects from the pool.

Example::

    from sealbox.tls.client import secure_client

    with secure_client(ca="ca/ca.crt", cert="tls/worker.crt", key="tls/worker.key",
                       pins=["sha256//current...", "sha256//backup..."]) as client:
        client.get("https://api.corp.internal:8443/health")

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from sealbox.tls._load import Password
from sealbox.tls.context import StrPath, client_context

if TYPE_CHECKING:
    import httpx2

__all__ = ["TLSFailure", "failed_check", "secure_async_client", "secure_client", "tls_failure"]

# httpx2 options that would bypass or contradict the context built here: a transport
# (or mounted ones) makes its own TLS context, and httpx then ignores `verify`, so the
# pins, the CA and the host name check would be dropped without a word.
_FORBIDDEN = frozenset({"verify", "transport", "mounts"})


def secure_client(
    ca: StrPath | None = None,
    cert: StrPath | None = None,
    key: StrPath | None = None,
    pins: Iterable[str] | str = (),
    *,
    password: Password | None = None,
    **options: Any,
) -> httpx2.Client:
    """Return an ``httpx2.Client`` that verifies servers strictly, optionally pinned.

    Args:
        ca: PEM file of the CA(s) to trust instead of the system's trust store.
        cert: client certificate for mutual TLS (PEM, leaf then chain).
        key: its private key (PEM); omitted: read from ``cert``.
        pins: SPKI pins (``sha256//BASE64``, or one string with ``;`` between pins);
            the server's key must match one of them. List a backup key's pin too.
        password: passphrase of an encrypted ``key``.
        **options: passed on to ``httpx2.Client`` (``base_url``, ``timeout``,
            ``headers``, ``http2``, ``proxy``…); ``verify``, ``transport`` and
            ``mounts`` are not accepted: a transport brings its own TLS context, which
            would silently replace this one (build it with
            ``verify=client_context(...)`` instead).

    Raises:
        TLSConfigError: a CA, certificate or key file is unusable.
        ConfigError: a pin is malformed.
        TypeError: ``verify``, ``transport`` or ``mounts`` was passed in ``options``.
    """
    import httpx2

    context = client_context(ca, cert, key, password=password, pins=pins)
    return httpx2.Client(verify=context, **_checked(options))


def secure_async_client(
    ca: StrPath | None = None,
    cert: StrPath | None = None,
    key: StrPath | None = None,
    pins: Iterable[str] | str = (),
    *,
    password: Password | None = None,
    **options: Any,
) -> httpx2.AsyncClient:
    """Return an ``httpx2.AsyncClient`` configured as :func:`secure_client` describes."""
    import httpx2

    context = client_context(ca, cert, key, password=password, pins=pins)
    return httpx2.AsyncClient(verify=context, **_checked(options))


def _checked(options: dict[str, Any]) -> dict[str, Any]:
    bad = sorted(_FORBIDDEN & options.keys())
    if bad:
        raise TypeError(
            f"secure clients build their own TLS context; do not pass {', '.join(bad)} "
            "(use ca=, cert=, key=, pins=; for a transport of your own, give it "
            "verify=client_context(...))"
        )
    return options


# OpenSSL's X509_V_ERR_* codes by the check that failed: 2 and 18-21, no chain to a trusted
# CA (the fix is on this side, trusting the right CA); 62 host name and 64 IP address
# mismatch; 9 not yet valid, 10 expired. Any other (a key, an extension) is "other".
_CHECKS: Final = {
    **dict.fromkeys((2, 18, 19, 20, 21), "issuer"),
    **dict.fromkeys((62, 64), "name"),
    **dict.fromkeys((9, 10), "dates"),
}


def failed_check(exc: ssl.SSLCertVerificationError) -> str:
    """Which check a certificate failed: ``issuer``, ``name``, ``dates`` or ``other``."""
    return _CHECKS.get(exc.verify_code, "other")


@dataclass(frozen=True, slots=True)
class TLSFailure:
    """Why a TLS connection failed, in words (from :func:`tls_failure`).

    Attributes:
        reason: what failed, as OpenSSL names it: ``its certificate is not trusted:
            unable to get local issuer certificate``, ``its certificate did not verify:
            certificate has expired``, ``the TLS handshake failed: tlsv1 alert protocol
            version``…
        certificate: the server's certificate did not verify (else: the handshake failed).
        unknown_issuer: it did not verify because no trusted CA issued it (pass the CA),
            rather than for its name, its dates or its key.
        hint: what to do about it, in the library's terms.
    """

    reason: str
    certificate: bool
    unknown_issuer: bool
    hint: str


def tls_failure(exc: BaseException) -> TLSFailure | None:
    """Why ``exc`` (an ``httpx2`` error, or one it wraps) failed in TLS; ``None`` if not TLS.

    httpx2 reports every failed handshake as a ``ConnectError`` (or a ``ReadError`` for
    an alert after it) whose text is OpenSSL's; the ``ssl`` error it wraps says what
    failed: a certificate for another host, an expired one, an unknown CA, a protocol
    version or cipher the two sides do not share.
    """
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, ssl.SSLCertVerificationError):
            return _certificate_failure(cause)
        if isinstance(cause, ssl.SSLError) and not isinstance(cause, ssl.SSLEOFError):
            reason = str(cause.reason or cause.strerror or "").lower().replace("_", " ")
            return TLSFailure(
                f"the TLS handshake failed: {reason or type(cause).__name__}",
                certificate=False,
                unknown_issuer=False,
                hint=_handshake_hint(reason),
            )
        cause = cause.__cause__ or cause.__context__
    return None


# Alerts a server sends when it refuses the client's certificate (RFC 8446 section 6.2):
# the server's side of mutual TLS, which no protocol or cipher setting here can fix.
_CLIENT_CERTIFICATE_ALERTS: Final = (
    "alert unknown ca",
    "alert bad certificate",
    "alert certificate unknown",
    "alert certificate expired",
    "alert certificate revoked",
    "alert unsupported certificate",
    "alert access denied",
)
# What OpenSSL says when the answer to its ClientHello is not TLS at all (plain HTTP).
_NOT_TLS: Final = ("wrong version number", "packet length too long", "http request")


def _handshake_hint(reason: str) -> str:
    if reason.endswith("certificate required"):
        return "the server wants a client certificate (mutual TLS): give cert= and key="
    if reason.endswith(_CLIENT_CERTIFICATE_ALERTS):
        return (
            "the server refused this client certificate (mutual TLS): give cert= and key= "
            "of a valid certificate from a CA the server trusts"
        )
    if reason.endswith(_NOT_TLS):
        return "the server does not speak TLS at that port: is it plain HTTP (http://)?"
    return "the server must offer TLS 1.2 or newer with an ECDHE and AEAD cipher suite (RFC 9325)"


def _certificate_failure(exc: ssl.SSLCertVerificationError) -> TLSFailure:
    message = str(exc.verify_message or "certificate verify failed").rstrip(".")
    check = failed_check(exc)
    if check == "issuer":
        return TLSFailure(
            f"its certificate is not trusted: {message}",
            certificate=True,
            unknown_issuer=True,
            hint="trust the CA that issued the server's certificate (ca=)",
        )
    return TLSFailure(
        f"its certificate did not verify: {message}",
        certificate=True,
        unknown_issuer=False,
        hint=_CERTIFICATE_HINTS.get(
            check, "the server needs a certificate that passes strict X.509 checks"
        ),
    )


_CERTIFICATE_HINTS: Final = {
    "name": "connect by a name (or address) its certificate holds in its subjectAltName",
    "dates": "the server's certificate must be renewed, or a clock is wrong (here or there)",
}
