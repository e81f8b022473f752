"""Each client connection: TLS, limits and timeouts, then uvicorn's HTTP protocol inside.

uvicorn takes the class of the protocol that serves a connection as a setting
(``Config(http=…)``). sealbox gives it :class:`GuardedConnection`, which *wraps*
uvicorn's own HTTP protocol (httptools where installed, else h11) rather than
subclassing it, and does what uvicorn and asyncio do not let an application do:

- **TLS, with the handshake in sealbox's hands**
  (:class:`~sealbox.tls.server_session.TLSSession`, over memory buffers). Under
  mutual TLS the certificate request names the client CAs accepted. A refused
  handshake — no client certificate, one from another CA, a certificate not meant for
  clients — ends with the TLS alert OpenSSL chose (``certificate_required``,
  ``unknown_ca``, ``unsupported_certificate``…) sent before the connection closes, so
  clients can say why; asyncio's own TLS layer resets the connection without it.
  Every refusal is logged with the reason. The handshake must finish within
  ``SEALBOX_TLS_HANDSHAKE_TIMEOUT`` seconds.
- **Timeouts for slow clients**: a connection that sends no request within
  ``SEALBOX_IDLE_TIMEOUT`` seconds of its handshake is closed; a request's head must
  arrive within ``SEALBOX_HEADER_TIMEOUT`` seconds of its first byte, and its body
  within ``SEALBOX_BODY_TIMEOUT`` seconds of its head (answer 408, then close).
  Between requests, uvicorn's keep-alive timeout applies (empty lines sent meanwhile
  are dropped here, so they cannot cancel it); a client that reads nothing of its
  answers while more wait to be sent is cut off after ``SEALBOX_BODY_TIMEOUT`` seconds.
- **Framing refusals are the service's JSON errors** (``invalid_request``,
  ``headers_too_large``, ``request_timeout``, with the security headers, then a close):
  ambiguous lengths; a head without ``Host``, with two, or with one that is not a host and
  port; a target that is neither a path nor an https URL of ``Host``'s authority
  (:mod:`sealbox.service.framing` says why). What uvicorn's HTTP parser
  refuses itself (a NUL in a header, obs-fold, bare LF…) keeps uvicorn's text/plain 400
  and close: replacing it would mean patching uvicorn's protocol.
- **Pipelined requests are handed over one at a time**: a request sent before the answer
  to the one before it waits here, unread, until that answer has been written whole,
  so whatever refuses it — these checks, uvicorn's parser, the timeouts, which start
  only then — answers after that answer (RFC 9112 §9.3.2). uvicorn queues pipelined
  requests itself, but its parser refuses a malformed one as it arrives, closing the
  connection before the earlier answer is written.
- **At most ``SEALBOX_MAX_CONNECTIONS_PER_ADDRESS`` connections per client address**
  (per worker); more are closed at once, before any TLS work. A trusted proxy
  (``SEALBOX_TRUSTED_PROXIES``) is not held to it: every client behind it connects from
  its address, and it limits them itself.
- **The client certificate** of a mutual-TLS connection is handed to the application
  in each request's ``scope["state"]`` (:class:`~sealbox.tls.server_session.ClientIdentity`),
  through the lifespan state that uvicorn copies into every request.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import struct
from collections import Counter
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any, ClassVar, Final, cast

from sealbox.service.errors import ErrorCode
from sealbox.service.forwarded import TrustedProxies
from sealbox.service.framing import (
    AnswerTracker,
    FramingError,
    RequestTracker,
    Stage,
    list_as_get,
)
from sealbox.service.middleware import security_headers
from sealbox.service.settings import ServiceSettings
from sealbox.service.tls_setup import PEER_STATE_KEY, make_server_tls
from sealbox.tls.server_session import (
    HandshakeRefusedError,
    ServerTLS,
    TLSClosedError,
    TLSSession,
)

__all__ = ["EnvConnection", "GuardedConnection", "connection_class", "http_protocol_class"]

log = logging.getLogger("sealbox.service")

_OPEN: Counter[str] = Counter()  # connections per client address, in this process


def http_protocol_class() -> type[asyncio.Protocol]:
    """uvicorn's fastest HTTP/1.1 protocol here: httptools, else h11."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        from uvicorn.protocols.http.h11_impl import H11Protocol

        return H11Protocol
    return HttpToolsProtocol


class _TLSTransport(asyncio.Transport):
    """What uvicorn's protocol writes to: plaintext in, TLS records out."""

    def __init__(self, connection: GuardedConnection) -> None:
        super().__init__()
        self._c = connection

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        c = self._c
        if name == "sslcontext":  # uvicorn asks it to tell https from http
            return c.context
        if name in ("cipher", "tls_version"):
            return c.tls.info(name) if c.tls is not None else default
        if name in ("ssl_object", "peercert"):
            return default  # not Python ssl objects: the identity is in the scope state
        return c.raw.get_extra_info(name, default) if c.raw is not None else default

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._c.send_plaintext(data)

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        self._c.send_plaintext(b"".join(list_of_data))

    def is_closing(self) -> bool:
        return self._c.closing

    def close(self) -> None:
        self._c.close()

    def abort(self) -> None:
        self._c.close(abort=True)

    def pause_reading(self) -> None:
        self._c.pause_reading()

    def resume_reading(self) -> None:
        self._c.resume_reading()

    def is_reading(self) -> bool:
        return not self._c.reading_paused

    def can_write_eof(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        raw = self._c.raw
        waiting = sum(len(data) for data in self._c.plain_waiting())
        return waiting + (raw.get_write_buffer_size() if raw is not None else 0)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if self._c.raw is not None:
            self._c.raw.set_write_buffer_limits(high, low)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._c.inner = protocol  # type: ignore[assignment]

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self._c.inner is not None
        return self._c.inner


class GuardedConnection(asyncio.Protocol):
    """One client connection: see the module docstring.

    uvicorn makes one per connection with the keyword arguments it gives every HTTP
    protocol; the settings come from :attr:`settings` (a class bound by
    :func:`connection_class`) or, in :class:`EnvConnection`, from ``SEALBOX_*``.
    """

    settings: ClassVar[ServiceSettings | None] = None
    # One TLS setup per class and process, whose context the certificate reloader
    # renews (make_server_tls registers it).
    server_tls: ClassVar[ServerTLS | None] = None

    @classmethod
    def load_tls(cls) -> ServerTLS:
        """This process's TLS setup, built on the first call (each connection calls it).

        A worker calls it before it serves: a certificate, key or CA that does not load
        then fails its start, instead of every handshake while it takes connections.

        Raises:
            TLSConfigError: a certificate, key or CA file is unusable.
        """
        if cls.server_tls is None:
            cls.server_tls = make_server_tls(cls.settings or _env_settings())
        return cls.server_tls

    def __init__(
        self,
        config: Any,
        server_state: Any,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._kwargs = {"config": config, "server_state": server_state, "_loop": _loop}
        self._app_state = app_state
        self._loop = _loop or asyncio.get_event_loop()
        s = type(self).settings or _env_settings()
        self._s = s
        self.context = type(self).load_tls().context  # the one current as it starts
        self.raw: asyncio.Transport | None = None
        self.tls: TLSSession | None = None
        self.inner: asyncio.Protocol | None = None
        self.closing = False
        self.reading_paused = False
        self._address = "unknown"
        self._counted = False
        self._timer: asyncio.TimerHandle | None = None
        self._stall: asyncio.TimerHandle | None = None  # answers the client does not read
        self._tracker = RequestTracker(s.max_header_bytes, one_host=True)
        self._answers = AnswerTracker(self._tracker)
        self._requests = 0  # requests handed whole to the HTTP protocol
        self._pending: list[bytes] = []  # received, not yet handed to the HTTP protocol
        self._raw_paused = False
        self._plain: list[bytes] = []  # written by the protocol, not yet encrypted
        self._written_since_start = 0

    # -- the raw (TCP) side ----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio's; they have the same methods.
        transport = cast(asyncio.Transport, transport)
        self.raw = transport
        peer = transport.get_extra_info("peername")
        self._address = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
        if _OPEN[self._address] >= self._s.max_connections_per_address and not _trusted_proxies(
            self._s
        ).trusts_peer(self._address):
            log.warning(
                "refused a connection from %s: %d are open (SEALBOX_MAX_CONNECTIONS_PER_ADDRESS)",
                self._address,
                _OPEN[self._address],
            )
            self.closing = True
            transport.abort()
            return
        _OPEN[self._address] += 1
        self._counted = True
        self.tls = TLSSession(self.context)
        self._arm(self._s.tls_handshake_timeout, "the TLS handshake")

    def data_received(self, data: bytes) -> None:
        if self.closing or self.tls is None:
            return
        self.tls.receive(data)
        if self.inner is None:
            self._handshake()
        if self.inner is not None:
            self._read_records()

    def eof_received(self) -> bool | None:
        if self.inner is not None and not self.closing:
            return self.inner.eof_received()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self._disarm()
        self._unwatch_writes()
        if self._counted:
            self._counted = False
            _OPEN[self._address] -= 1
            if _OPEN[self._address] <= 0:
                del _OPEN[self._address]
        if self.inner is not None:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._watch_writes()
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        self._unwatch_writes()
        if self.inner is not None:
            self.inner.resume_writing()

    def _watch_writes(self) -> None:
        """Give the client ``SEALBOX_BODY_TIMEOUT`` seconds to make room for what waits.

        While the client reads nothing, uvicorn waits for room to write the next answer,
        and a closing connection for its last bytes to leave: no other timeout runs then,
        so a client that never reads would hold the connection, and its task, for good.
        """
        seconds = self._s.body_timeout
        if self._stall is None and seconds > 0:
            self._stall = self._loop.call_later(seconds, self._stalled, seconds)

    def _unwatch_writes(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None

    def _stalled(self, seconds: float) -> None:
        self._stall = None
        raw = self.raw
        if raw is None or (raw.is_closing() and not raw.get_write_buffer_size()):
            return
        log.info(
            "closed a connection from %s: the client read nothing of its answers for %g s",
            self._address,
            seconds,
        )
        # Nothing more reaches a client that reads nothing: no close_notify either. (The
        # transport may be closing already, waiting for its buffer to empty: close()
        # would return at once.)
        self.closing = True
        self._disarm()
        sock = raw.get_extra_info("socket")
        if sock is not None:
            # A reset, not a FIN after the unread bytes: the kernel would otherwise keep
            # them, and the socket, for minutes after the process let go of it.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        raw.abort()

    # -- TLS ---------------------------------------------------------------------------

    def _handshake(self) -> None:
        assert self.tls is not None
        try:
            done = self.tls.handshake()
        except HandshakeRefusedError as exc:
            log.warning("refused a TLS handshake from %s: %s", self._address, exc)
            # The alert OpenSSL chose is in the outgoing buffer: send it, then close.
            self._flush()
            self.close()
            return
        self._flush()  # handshake messages; at the end, session tickets
        if not done:
            return
        self._disarm()
        state = self._app_state
        identity = self.tls.peer_identity()
        if identity is not None:
            # A new dict for this connection: the shared lifespan state stays untouched.
            state = {**state, PEER_STATE_KEY: identity}
        protocol_class = http_protocol_class()
        self.inner = protocol_class(app_state=state, **self._kwargs)  # type: ignore[call-arg]
        self.inner.connection_made(_TLSTransport(self))
        self._arm(self._s.idle_timeout, "a first request")

    def _read_records(self) -> None:
        assert self.tls is not None
        try:
            data = self.tls.read()
        except TLSClosedError as end:
            self._deliver(end.data)
            if not end.clean:
                log.warning("TLS error on a connection from %s: %s", self._address, end)
                self.close(abort=True)
                return
            if self.inner is not None and not self.closing:
                self.inner.eof_received()
            self.close()
            return
        self._flush()  # key updates and the like
        self._deliver(data)

    def _flush(self) -> None:
        data = self.tls.outgoing() if self.tls is not None else b""
        if data and self.raw is not None and not self.raw.is_closing():
            self.raw.write(data)

    def send_plaintext(self, data: bytes | bytearray | memoryview) -> None:
        """Encrypt and send what the HTTP protocol writes.

        Writes made in one turn of the event loop (an answer's head, then its body) go
        out together, in one TLS record and one send: fewer system calls and bytes.
        """
        if self.closing or self.tls is None or not data:
            return
        self._written_since_start += len(data)
        if not self._plain:
            self._loop.call_soon(self._send_plain)
        self._plain.append(bytes(data))

    def _send_plain(self) -> None:
        if not self._plain or self.tls is None:
            return
        data, self._plain = b"".join(self._plain), []
        self._answers.wrote(data)
        try:
            self.tls.write(data)
        except TLSClosedError as exc:
            log.warning("TLS error on a connection from %s: %s", self._address, exc)
            self.close(abort=True)
            return
        self._flush()
        if self._pending:
            self._drain()  # a pipelined request whose turn may have come

    def close(self, *, abort: bool = False) -> None:
        """Close: a TLS close_notify first (unless aborting), then the TCP connection."""
        if self.closing and self.raw is not None and self.raw.is_closing():
            return
        self.closing = True
        self._disarm()
        if self.raw is None:
            return
        if abort:
            self._unwatch_writes()
            self.raw.abort()
            return
        self._send_plain()  # what the protocol wrote before closing still goes out
        if self.inner is not None and self.tls is not None:
            self.tls.close_notify()
        self._flush()
        self.raw.close()
        if self.raw.get_write_buffer_size():
            self._watch_writes()  # the transport waits for the client to take it all

    # -- flow control --------------------------------------------------------------------

    def plain_waiting(self) -> list[bytes]:
        """Plaintext written in this turn of the event loop, not yet encrypted."""
        return self._plain

    def pause_reading(self) -> None:
        self.reading_paused = True
        self._read_raw()

    def resume_reading(self) -> None:
        self.reading_paused = False
        self._drain()

    def _read_raw(self) -> None:
        """Read from the client unless the protocol paused reading or a request waits."""
        paused = self.reading_paused or bool(self._pending)
        if paused is not self._raw_paused and self.raw is not None and not self.closing:
            self._raw_paused = paused
            if paused:
                self.raw.pause_reading()
            else:
                self.raw.resume_reading()

    # -- requests and their timeouts -----------------------------------------------------

    def _deliver(self, data: bytes) -> None:
        if data and not self.closing and self.inner is not None:
            self._pending.append(data)
            self._drain()

    def _drain(self) -> None:
        """Hand the HTTP protocol what the client sent, up to the end of a request that
        is not answered yet: what follows waits until its answer is written whole."""
        pending = self._pending
        while pending and not (self.reading_paused or self.closing):
            if self._answers.answered < self._requests:
                break
            data = pending.pop(0)
            if self._tracker.stage is Stage.IDLE:
                # Empty lines before a request (RFC 9112 §2.2) stop here: uvicorn's
                # protocol cancels its keep-alive timeout on any data and arms it again
                # only after an answer, so a CRLF now and then would hold the
                # connection open for good.
                data = data.lstrip(b"\r\n")
                if not data:
                    continue
            if self._tracker.stage is Stage.IDLE and data[:1] == b"L":
                data = list_as_get(data)  # Vault's LIST method (sealbox.service.vault)
            try:
                events, used = self._tracker.take(data)
            except FramingError as exc:
                self._answer_and_close(exc.status, str(exc))
                return
            if used < len(data):
                pending.insert(0, data[used:])
                data = data[:used]
            for event in events:
                if event == "start":
                    self._written_since_start = 0
                    self._arm(self._s.header_timeout, "the request head")
                elif event == "head":
                    self._arm(self._s.body_timeout, "the request body")
                elif event == "done":
                    self._requests += 1
                    self._disarm()
            assert self.inner is not None
            self.inner.data_received(data)
        self._read_raw()

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        if seconds > 0:
            self._timer = self._loop.call_later(seconds, self._expired, what, seconds)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self, what: str, seconds: float) -> None:
        self._timer = None
        if self.closing:
            return
        log.info("closed a connection from %s: %s took over %g s", self._address, what, seconds)
        # A "100 Continue" alone is not an answer: the client still waits for one.
        answered = self._written_since_start not in (0, len(_CONTINUE))
        if self.inner is not None and what != "a first request" and not answered:
            self._answer_and_close(408, f"{what} did not arrive within {seconds:g} s")
        else:
            self.close()

    def _answer_and_close(self, status: int, message: str) -> None:
        code = _CODES[status]
        body = json.dumps({"error": code, "message": message}, separators=(",", ":")).encode()
        head = (
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
            "content-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n"
        ).encode()
        self.send_plaintext(head + _SECURITY_HEADERS + b"\r\n" + body)
        self.close()


# What uvicorn writes when the app reads a body sent with "Expect: 100-continue".
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
# The headers SecurityHeadersMiddleware gives an API answer over TLS ("every answer").
_SECURITY_HEADERS: Final = b"".join(
    name + b": " + value + b"\r\n"
    for name, value in security_headers({"path": "/", "scheme": "https"})
)
# The answers this layer gives itself, before the application sees a request.
_CODES: Final = {
    400: ErrorCode.INVALID_REQUEST.value,
    408: ErrorCode.REQUEST_TIMEOUT.value,
    431: ErrorCode.HEADERS_TOO_LARGE.value,
}


class EnvConnection(GuardedConnection):
    """:class:`GuardedConnection` with the settings of ``SEALBOX_*`` (for worker processes)."""


_ENV_SETTINGS: list[ServiceSettings] = []


def _env_settings() -> ServiceSettings:
    if not _ENV_SETTINGS:
        _ENV_SETTINGS.append(ServiceSettings())
    return _ENV_SETTINGS[0]


# The settings' proxies, parsed once (serve's check refused a malformed list at start-up).
_PROXIES: dict[str, TrustedProxies] = {}


def _trusted_proxies(settings: ServiceSettings) -> TrustedProxies:
    listed = settings.trusted_proxies
    found = _PROXIES.get(listed)
    if found is None:
        found = _PROXIES[listed] = TrustedProxies.parse(listed)
    return found


def connection_class(settings: ServiceSettings) -> type[GuardedConnection]:
    """A :class:`GuardedConnection` class bound to ``settings`` (for a server in this process).

    Its TLS setup is made now, so the certificate reloader finds it from the start.
    """
    return type(
        "BoundConnection",
        (GuardedConnection,),
        {"settings": settings, "server_tls": make_server_tls(settings)},
    )
