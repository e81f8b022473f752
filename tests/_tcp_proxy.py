"""A TCP forwarder a test can cut and restore, to make a real server stop answering.

Between a client under test and a real server (Redis here): while cut, every open
connection is closed and new ones are accepted and closed at once, as a server that
went away mid-flight looks to its clients. While hung (``hang()``), connections stay open
and what clients send is read and dropped, and new ones are accepted, read and never
answered, as a server that is stopped (SIGSTOP) or whose network went silent looks;
``hung`` counts the new ones. ``restore()`` forwards again and closes those.
``lose_reply_to``: the next client data holding these bytes is forwarded, and the server's
answer to it is not: that connection is closed instead, as a reset or a timeout after a
command was sent looks to a client (the server did execute it). Once, then ``None``.
``watch``: called with each piece of client data before it is forwarded; when it answers
``False`` the piece is not forwarded and the forwarder is cut, as ``cut()`` does.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar
from urllib.parse import urlsplit


class Proxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._cut = False
        self._hang = False
        self._hung: list[socket.socket] = []
        #: Connections accepted while hung (each one is read and never answered).
        self.hung = 0
        self.drop_on: bytes | None = None
        self.lose_reply_to: bytes | None = None
        #: Answers not relayed because of ``lose_reply_to``.
        self.replies_lost = 0
        self.watch: Callable[[bytes], bool] | None = None
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def hang(self) -> None:
        """Answer nothing more: drop what clients send; accept new connections, never
        to answer them."""
        with self._lock:
            self._cut, self._hang = False, True

    def restore(self) -> None:
        """Forward again; the connections accepted while hung (no server behind them)
        are closed."""
        with self._lock:
            self._cut = self._hang = False
            for sock in self._hung:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._hung.clear()

    def close(self) -> None:
        self.cut()
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if self._cut:
                    client.close()
                    continue
                if self._hang:
                    self._hung.append(client)
                    self.hung += 1
                    threading.Thread(target=self._swallow, args=(client,), daemon=True).start()
                    continue
                try:
                    upstream = socket.create_connection(self._target, timeout=5)
                except OSError:
                    client.close()
                    continue
                self._open += [client, upstream]
            losing = threading.Event()  # this connection's next answer is not relayed
            for a, b, watched in ((client, upstream, True), (upstream, client, False)):
                args = (a, b, watched, losing)
                threading.Thread(target=self._pipe, args=args, daemon=True).start()

    def _swallow(self, sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while sock.recv(65536):
                pass

    def _pipe(
        self, src: socket.socket, dst: socket.socket, watched: bool, losing: threading.Event
    ) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                if watched and self.drop_on is not None and self.drop_on in data:
                    break
                if watched and self.watch is not None and not self.watch(data):
                    self.cut()
                    return
                if watched and self._hang:
                    continue  # read, never to be answered
                if not watched and losing.is_set():
                    self.replies_lost += 1
                    break
                if watched and self.lose_reply_to is not None:
                    with self._lock:  # once: a command sent again is answered
                        if self.lose_reply_to is not None and self.lose_reply_to in data:
                            self.lose_reply_to = None
                            losing.set()  # before the command goes: no answer overtakes
                dst.sendall(data)
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def proxy_to(host: str, port: int) -> Iterator[Proxy]:
    proxy = Proxy((host, port))
    try:
        yield proxy
    finally:
        proxy.close()


P = TypeVar("P", bound=Proxy)


@contextlib.contextmanager
def forwarding(url: str, kind: Callable[[tuple[str, int]], P]) -> Iterator[tuple[P, str]]:
    """A ``kind`` forwarder to the server of ``url`` (``redis://host:port/…``), and the
    URL that reaches that server through it; closed on leaving."""
    where = urlsplit(url)
    proxy = kind((where.hostname or "127.0.0.1", where.port or 6379))
    try:
        yield proxy, where._replace(netloc=f"{where.hostname}:{proxy.port}").geturl()
    finally:
        proxy.close()
