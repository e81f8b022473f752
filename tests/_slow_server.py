"""A raw TCP server on 127.0.0.1 that answers with whatever bytes a test scripts, as slowly
as it likes: for clients that must bound a whole HTTP exchange, not each socket read.

``RawServer(answer)`` reads each request's head (up to the blank line), then calls
``answer(send)``; ``send(data, delay=0)`` writes ``data`` (a byte at a time, ``delay``
seconds apart, when ``delay`` is given) and returns ``False`` once the client has gone
or the server is closing, so an answer that trickles stops when nobody listens
(``srv.client_left`` is set when a client went away in the middle of an answer). The
connection is closed after one answer, or with ``keep_alive=True`` read for the next
request unless ``answer`` returned ``False`` (``srv.requests`` holds every request head).
Closed unsaid, an HTTP/1.1 connection may still be reused: a client sending its next
request (a redirect's, a retry's) on it just as it closes gets a reset. An answer that
is followed by another request says ``Connection: close``, or uses ``keep_alive=True``.

That race made certain: ``drop_reused="close"`` (or ``"reset"``) answers the first request
on each connection and keeps the connection open, unsaid as above; when the next request
comes on it, the server closes it without a byte of answer (``"close"``: an orderly close,
the client reads the end of the stream; ``"reset"``: a reset) — what a server or a load
balancer whose idle timeout fires as the client reuses the connection does, after the
client's check that the connection is still open has passed. Such a request is not in
``srv.requests``: ``srv.dropped`` holds the number of each connection closed so.
``srv.connections[i]`` is the number (0, 1, … in the order accepted) of the connection
``srv.requests[i]`` came on.
"""

from __future__ import annotations

import contextlib
import itertools
import select
import socket
import ssl
import struct
import threading
from collections.abc import Callable
from typing import Literal, Protocol


class Send(Protocol):
    def __call__(self, data: bytes, delay: float = 0.0) -> bool: ...


Answer = Callable[[Send], "bool | None"]


class RawServer:
    """Start with ``with RawServer(answer) as srv:``; ``srv.port``, ``srv.url``."""

    def __init__(
        self,
        answer: Answer,
        context: ssl.SSLContext | None = None,
        *,
        keep_alive: bool = False,
        drop_reused: Literal["close", "reset"] | None = None,
    ) -> None:
        self._answer = answer
        self._keep_alive = keep_alive
        self._context = context
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        scheme = "https" if context is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.requests: list[bytes] = []
        self.client_left = threading.Event()
        self._drop_reused = drop_reused
        self._numbers = itertools.count()
        self.connections: list[int] = []
        self.dropped: list[int] = []

    def __enter__(self) -> RawServer:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._listener.close()
        for thread in self._threads:
            thread.join(5)

    def _accept(self) -> None:
        self._listener.settimeout(0.05)
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _next_comes(self, conn: socket.socket) -> bool:
        """Wait for the next request on a connection to drop, or the server closing: a
        client that keeps its connection open does not hold the server's exit."""
        while not self._stop.is_set():
            try:
                if select.select([conn], [], [], 0.05)[0]:
                    return True
            except (OSError, ValueError):
                return False
        return False

    def _serve(self, conn: socket.socket) -> None:
        number = next(self._numbers)
        with contextlib.ExitStack() as stack:
            stack.callback(conn.close)
            conn.settimeout(5)
            try:
                if self._context is not None:
                    conn = self._context.wrap_socket(conn, server_side=True)
                    stack.callback(conn.close)
            except (OSError, ssl.SSLError):
                return

            def send(data: bytes, delay: float = 0.0) -> bool:
                pieces = [data] if not delay else [data[i : i + 1] for i in range(len(data))]
                for piece in pieces:
                    if self._stop.is_set() or (delay and self._stop.wait(delay)):
                        return False
                    try:
                        conn.sendall(piece)
                    except OSError:
                        self.client_left.set()
                        return False
                return True

            answered = False
            while not self._stop.is_set():
                if answered and self._drop_reused is not None and not self._next_comes(conn):
                    return
                head = b""
                try:
                    while b"\r\n\r\n" not in head:
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        head += chunk
                except (OSError, ssl.SSLError):
                    return
                if answered and self._drop_reused is not None:
                    if self._drop_reused == "reset":
                        # Linger on, for no time: the close sends a reset, not a FIN.
                        conn.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                    self.dropped.append(number)
                    return
                self.requests.append(head)
                self.connections.append(number)
                answered = True
                keep_alive = self._keep_alive or self._drop_reused is not None
                if self._answer(send) is False or not keep_alive:
                    return
