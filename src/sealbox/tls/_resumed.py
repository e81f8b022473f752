"""Server contexts that never resume a session past its client certificate's expiry.

OpenSSL verifies a client certificate during a full handshake only: a resumed session
(a TLS 1.2 session id or ticket, a TLS 1.3 PSK) keeps the certificate of its full
handshake for the session's whole lifetime (hours), even after the certificate expired.
:func:`check_resumed_sessions` makes a server context check it again right after each
handshake that resumed, before the application reads a byte, through the context's
``sslsocket_class`` and ``sslobject_class`` (the standard library's hook, also used by
asyncio and uvloop), so the context stays a plain ``ssl.SSLContext``.
"""

from __future__ import annotations

import functools
import ssl
from datetime import UTC, datetime

from cryptography import x509

from sealbox.tls import _load
from sealbox.tls._checked import CheckedObject, CheckedSocket

__all__ = ["check_resumed_sessions"]

# X509_V_ERR_CERT_HAS_EXPIRED: what OpenSSL reports for the same certificate in a full
# handshake, so that servers handle both alike.
_CERT_HAS_EXPIRED = 10


def _now() -> datetime:
    return datetime.now(UTC)


@functools.lru_cache(maxsize=256)
def _not_after(der: bytes) -> datetime:
    with _load.quiet_encoding_warnings():
        return x509.load_der_x509_certificate(der).not_valid_after_utc


def _refusal(obj: ssl.SSLObject | ssl.SSLSocket) -> ssl.SSLCertVerificationError | None:
    if not obj.session_reused:
        return None
    der = obj.getpeercert(binary_form=True)
    if der is None or _not_after(der) >= _now():
        return None
    error = ssl.SSLCertVerificationError(
        1,
        "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired "
        "(the client certificate of a resumed session)",
    )
    error.verify_code = _CERT_HAS_EXPIRED
    error.verify_message = "certificate has expired"
    error.reason = "CERTIFICATE_VERIFY_FAILED"
    error.library = "SSL"
    return error


class _CheckedSocket(CheckedSocket):
    def _sealbox_verify(self) -> None:
        refusal = _refusal(self)
        if refusal is not None:
            raise refusal


class _CheckedObject(CheckedObject):
    def _sealbox_verify(self) -> None:
        refusal = _refusal(self)
        if refusal is not None:
            raise refusal


def check_resumed_sessions(context: ssl.SSLContext) -> None:
    """Make a server context refuse a resumed session whose client certificate expired.

    The refusal is the ``ssl.SSLCertVerificationError`` (``certificate has expired``) a
    full handshake gives for that certificate; the client must connect afresh, with a
    valid certificate. A context with its own socket classes is left as it is.
    """
    if context.sslsocket_class is ssl.SSLSocket:
        context.sslsocket_class = _CheckedSocket
    if context.sslobject_class is ssl.SSLObject:
        context.sslobject_class = _CheckedObject
