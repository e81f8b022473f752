"""Raw TLS sockets to a running service, for tests that send bytes no HTTP client would."""

from __future__ import annotations

import socket
import ssl

import pytest

from tests.service.conftest import Running


def connect(running: Running) -> ssl.SSLSocket:
    """A TLS socket to ``running``, verified against its CA."""
    ctx = ssl.create_default_context(cafile=str(running.ca))
    raw = socket.create_connection(("127.0.0.1", running.settings.port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def read_all(sock: ssl.SSLSocket, seconds: float = 2.0) -> bytes:
    """Everything the server sends until it closes or ``seconds`` of silence."""
    sock.settimeout(seconds)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ssl.SSLError, OSError):
            return data
        if not chunk:
            return data
        data += chunk


def read_until_closed(sock: socket.socket, guard: float = 30.0) -> bytes:
    """Everything the server sends until it closes the connection.

    ``guard`` only turns a server that never closes into a failure: reaching it fails
    the test, whatever the server sent before.
    """
    sock.settimeout(guard)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (ssl.SSLError, ConnectionResetError):
            return data
        except TimeoutError:
            pytest.fail(f"the server kept the connection open for {guard} s after {data!r}")
        if not chunk:
            return data
        data += chunk
