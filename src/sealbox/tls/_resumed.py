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
from typing import Any

from cryptography import x509

from sealbox.tls import _load

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


class _CheckedSocket(ssl.SSLSocket):
    _sealbox_checked = False

    def do_handshake(self, block: bool = False) -> None:
        super().do_handshake(block)
        refusal = _refusal(self)
        if refusal is not None:
            self.close()
            raise refusal
        self._sealbox_checked = True

    def _sealbox_ensure(self) -> None:
        # SSL_read and SSL_write would run a skipped handshake themselves, unchecked.
        if not self._sealbox_checked and self._sslobj is not None:  # type: ignore[attr-defined]
            self.do_handshake()

    def read(self, len: int = 1024, buffer: Any = None) -> Any:  # noqa: A002 - base signature
        self._sealbox_ensure()
        return super().read(len, buffer)

    def write(self, data: Any) -> int:
        self._sealbox_ensure()
        return super().write(data)

    def send(self, data: Any, flags: int = 0) -> int:
        self._sealbox_ensure()
        return super().send(data, flags)


class _CheckedObject(ssl.SSLObject):
    _sealbox_checked = False

    def do_handshake(self) -> None:
        super().do_handshake()
        refusal = _refusal(self)
        if refusal is not None:
            raise refusal
        self._sealbox_checked = True

    def read(self, len: int = 1024, buffer: Any = None) -> Any:  # noqa: A002 - base signature
        if not self._sealbox_checked:
            self.do_handshake()
        return super().read(len, buffer)

    def write(self, data: Any) -> int:
        if not self._sealbox_checked:
            self.do_handshake()
        return super().write(data)


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
