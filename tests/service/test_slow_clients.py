"""Slow and greedy clients are cut off by the server's timeouts (lowered to seconds here).

Each test asserts what the server did — closed the connection, answered 408, named the
timeout that fired and its configured value — never how long it took: on a loaded machine
a timeout fires late, but it fires. Only the timeout under test is short; the others keep
their defaults, so a handshake slowed by the load is not cut off. A client read waits at
most HANG_GUARD seconds: that only turns a server that never closes into a failure.
"""

from __future__ import annotations

import itertools
import logging
import socket
import ssl
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest

from sealbox.exceptions import SealboxError
from tests.service._raw import read_until_closed
from tests.service.conftest import Running, make_settings, run_service

HANG_GUARD = 30.0
TRICKLE_PAUSE = 0.2  # between two pieces of a trickled request


@contextmanager
def _serving(data: Path, **settings: Any) -> Iterator[Running]:
    with run_service(make_settings(data, **settings)) as running:
        yield running


@pytest.fixture
def closes(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """The service's log, where it says which timeout closed a connection."""
    caplog.set_level(logging.INFO, logger="sealbox.service")
    return caplog


def _tls(running: Running) -> ssl.SSLSocket:
    ctx = ssl.create_default_context(cafile=str(running.ca))
    raw = socket.create_connection(("127.0.0.1", running.settings.port), timeout=HANG_GUARD)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def _until_closed(sock: socket.socket) -> bytes:
    """Read until the server closes; return what it sent."""
    return read_until_closed(sock, HANG_GUARD)


def _trickle_until_answered(sock: ssl.SSLSocket, pieces: Iterable[bytes]) -> bytes:
    """Send ``pieces`` one by one, pausing between them, until the server answers or
    closes; return all it sent until it closed."""
    guard = int(HANG_GUARD / TRICKLE_PAUSE)
    for piece in itertools.islice(pieces, guard):
        try:
            sock.sendall(piece)
        except (ssl.SSLError, OSError):
            break  # closed: what it said before is still to be read
        sock.settimeout(TRICKLE_PAUSE)
        try:
            first = sock.recv(65536)
        except TimeoutError:
            continue  # still listening: trickle on
        except (ssl.SSLError, ConnectionResetError):
            return b""
        return first + _until_closed(sock) if first else b""
    else:
        pytest.fail(f"the server let the request trickle for {HANG_GUARD} s")
    return _until_closed(sock)


def _one_answer(sock: ssl.SSLSocket, path: str = "/health") -> bytes:
    """Send one GET on a kept-alive connection and read its whole answer."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    sock.settimeout(HANG_GUARD)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed instead of answering: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed inside an answer: {data!r}"
        body += chunk
    return head + b"\r\n\r\n" + body


def test_a_tcp_connection_that_never_starts_tls_is_closed(tmp_path: Path, closes) -> None:
    with (
        _serving(tmp_path / "data", tls_handshake_timeout=1.0) as running,
        socket.create_connection(("127.0.0.1", running.settings.port)) as raw,
    ):
        assert _until_closed(raw) == b""
    # Logged before the close: the configured handshake timeout ended it.
    assert "the TLS handshake took over 1 s" in closes.text


def test_an_idle_tls_connection_is_closed(tmp_path: Path, closes) -> None:
    with _serving(tmp_path / "data", idle_timeout=1.0) as running, _tls(running) as sock:
        assert _until_closed(sock) == b""
    assert "a first request took over 1 s" in closes.text


def test_headers_trickled_slowly_get_408_and_a_close(tmp_path: Path) -> None:
    # A line now and then does not restart the clock: the head as a whole has 1 s.
    lines = (b"X-Line-%d: 1\r\n" % n for n in itertools.count())
    with _serving(tmp_path / "data", header_timeout=1.0) as running, _tls(running) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n")
        answered = _trickle_until_answered(sock, lines)
    assert answered.startswith(b"HTTP/1.1 408 "), answered
    assert b'"error":"request_timeout"' in answered
    assert b"the request head did not arrive within 1 s" in answered


def test_a_body_trickled_slowly_gets_408_and_a_close(tmp_path: Path) -> None:
    # Announced far larger than what trickles in before the server gives up.
    with _serving(tmp_path / "data", body_timeout=1.5) as running, _tls(running) as sock:
        sock.sendall(
            b"POST /auth/register HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n{"
        )
        answered = _trickle_until_answered(sock, itertools.repeat(b" "))
    assert answered.startswith(b"HTTP/1.1 408 "), answered
    assert b"the request body did not arrive within 1.5 s" in answered


def test_a_keep_alive_connection_is_closed_after_the_keep_alive_timeout(tmp_path: Path) -> None:
    # The control: a service alike but for its long keep-alive timeout. Its connection,
    # used before and reused after the other closed, still answers: the configured
    # timeout closed the other, not something every connection meets.
    with (
        _serving(tmp_path / "short", keep_alive_timeout=1.0) as short,
        _serving(tmp_path / "long", keep_alive_timeout=3600) as long,
        _tls(short) as sock,
        _tls(long) as control,
    ):
        assert _one_answer(control).startswith(b"HTTP/1.1 200 ")
        assert _one_answer(sock).startswith(b"HTTP/1.1 200 ")
        assert _until_closed(sock) == b""
        assert _one_answer(control).startswith(b"HTTP/1.1 200 ")


def test_connections_per_address_are_capped(tmp_path: Path, closes) -> None:
    settings = make_settings(tmp_path / "data", max_connections_per_address=3)
    with run_service(settings) as running:
        held = [_tls(running) for _ in range(3)]
        try:
            with socket.create_connection(("127.0.0.1", settings.port)) as raw:
                assert _until_closed(raw) == b""
            assert "SEALBOX_MAX_CONNECTIONS_PER_ADDRESS" in closes.text
            assert "took over" not in closes.text  # refused, not left to a timeout
        finally:
            for sock in held:
                sock.close()
        # Room again once the server has seen them close (it may take a moment: polled).
        deadline = time.monotonic() + HANG_GUARD
        while True:
            try:
                with running.client() as c:
                    assert c.get("/health").status_code == 200
                    break
            except (httpx2.HTTPError, OSError, SealboxError):
                assert time.monotonic() < deadline, "no room for a connection again"
                time.sleep(0.05)


def test_a_trusted_proxy_is_not_held_to_the_per_address_connection_cap(tmp_path: Path) -> None:
    # Behind a proxy every client's connection comes from the proxy: the cap would let
    # only that many users in at once. The proxy limits its clients itself.
    settings = make_settings(
        tmp_path / "data", max_connections_per_address=2, trusted_proxies="127.0.0.1"
    )
    with run_service(settings) as running:
        held = [_tls(running) for _ in range(5)]
        try:
            for sock in held:
                assert _one_answer(sock).startswith(b"HTTP/1.1 200 ")
        finally:
            for sock in held:
                sock.close()


def test_normal_clients_are_unaffected(tmp_path: Path) -> None:
    short = {
        "tls_handshake_timeout": 1.0,
        "idle_timeout": 1.0,
        "header_timeout": 1.0,
        "body_timeout": 1.5,
        "keep_alive_timeout": 1.0,
    }
    with _serving(tmp_path / "data", **short) as running, running.client() as c:
        for _ in range(5):
            assert c.get("/health").status_code == 200
