"""TLS socket and ``SSLObject`` classes that run a check after each handshake, before the
application reads or writes a byte.

A context's ``sslsocket_class`` and ``sslobject_class`` (the standard library's hook, used
by blocking sockets, asyncio, uvloop, anyio and trio alike) are set to subclasses of these,
so the context stays a plain ``ssl.SSLContext``. A subclass says what to check in
:meth:`_sealbox_verify`, which raises to refuse the peer: pinning
(:mod:`sealbox.tls.pinning`) and the expiry of a resumed session's client certificate
(:mod:`sealbox.tls._resumed`).
"""

from __future__ import annotations

import ssl
from typing import Any

__all__ = ["CheckedObject", "CheckedSocket"]


class CheckedSocket(ssl.SSLSocket):
    """An ``SSLSocket`` whose peer passes :meth:`_sealbox_verify` before any data moves."""

    _sealbox_checked = False

    def _sealbox_verify(self) -> None:
        """Raise to refuse the peer of the handshake just done."""
        raise NotImplementedError

    def do_handshake(self, block: bool = False) -> None:
        super().do_handshake(block)
        try:
            self._sealbox_verify()
        except BaseException:
            # Closed before the caller can write: the peer sees the handshake and EOF.
            self.close()
            raise
        self._sealbox_checked = True

    def _sealbox_ensure(self) -> None:
        # OpenSSL would run a handshake the caller skipped inside SSL_read and SSL_write,
        # unchecked: run it here instead, so that the check cannot be skipped.
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


class CheckedObject(ssl.SSLObject):
    """An ``SSLObject`` (memory-BIO TLS: asyncio, anyio, trio) with the same check."""

    _sealbox_checked = False

    def _sealbox_verify(self) -> None:
        """Raise to refuse the peer of the handshake just done."""
        raise NotImplementedError

    def do_handshake(self) -> None:
        super().do_handshake()
        # This side's last handshake flight is still in the outgoing BIO: a refusal
        # raised here means the stream never even flushes it.
        self._sealbox_verify()
        self._sealbox_checked = True

    def read(self, len: int = 1024, buffer: Any = None) -> Any:  # noqa: A002 - base signature
        if not self._sealbox_checked:
            self.do_handshake()
        return super().read(len, buffer)

    def write(self, data: Any) -> int:
        if not self._sealbox_checked:
            self.do_handshake()
        return super().write(data)
