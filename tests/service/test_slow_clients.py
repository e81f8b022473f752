"""Slow and greedy clients are cut off in bounded time (timeouts lowered to seconds here)."""

from __future__ import annotations

import socket
import ssl
import time
from pathlib import Path

import pytest

from tests.service.conftest import make_settings, run_service

FAST = {
    "tls_handshake_timeout": 1.0,
    "idle_timeout": 1.0,
    "header_timeout": 1.0,
    "body_timeout": 1.5,
    "keep_alive_timeout": 1.0,
}


@pytest.fixture
def fast(tmp_path: Path):
    with run_service(make_settings(tmp_path / "data", **FAST)) as running:
        yield running


def _tls(running) -> ssl.SSLSocket:
    ctx = ssl.create_default_context(cafile=str(running.ca))
    raw = socket.create_connection(("127.0.0.1", running.settings.port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def _until_closed(sock: socket.socket, limit: float = 10.0) -> tuple[bytes, float]:
    """Read until the server closes; return what it sent and how long that took."""
    start = time.monotonic()
    sock.settimeout(limit)
    data = b""
    while time.monotonic() - start < limit:
        try:
            chunk = sock.recv(65536)
        except (ssl.SSLError, ConnectionResetError):
            break
        except TimeoutError:
            pytest.fail(f"the server kept the connection open past {limit} s")
        if not chunk:
            break
        data += chunk
    return data, time.monotonic() - start


def test_a_tcp_connection_that_never_starts_tls_is_closed(fast) -> None:
    with socket.create_connection(("127.0.0.1", fast.settings.port), timeout=10) as raw:
        _, took = _until_closed(raw)
    assert took < 4


def test_an_idle_tls_connection_is_closed(fast) -> None:
    with _tls(fast) as sock:
        data, took = _until_closed(sock)
    assert data == b"" and took < 4


def test_headers_trickled_slowly_get_408_and_a_close(fast) -> None:
    with _tls(fast) as sock:
        start = time.monotonic()
        sock.sendall(b"GET /health HTTP/1.1\r\n")
        answered = b""
        for line in (b"Host: localhost\r\n", b"X-A: 1\r\n", b"X-B: 2\r\n", b"X-C: 3\r\n"):
            time.sleep(0.5)
            try:
                sock.sendall(line)
            except (ssl.SSLError, OSError):
                break
        data, _ = _until_closed(sock)
        answered += data
        took = time.monotonic() - start
    assert answered.startswith(b"HTTP/1.1 408 ")
    assert b'"error":"request_timeout"' in answered
    assert took < 5


def test_a_body_trickled_slowly_gets_408_and_a_close(fast) -> None:
    with _tls(fast) as sock:
        start = time.monotonic()
        sock.sendall(
            b"POST /auth/register HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        for _ in range(10):
            time.sleep(0.4)
            try:
                sock.sendall(b" ")
            except (ssl.SSLError, OSError):
                break
        data, _ = _until_closed(sock)
        took = time.monotonic() - start
    assert data.startswith(b"HTTP/1.1 408 ")
    assert took < 5


def test_a_keep_alive_connection_is_closed_after_the_keep_alive_timeout(fast) -> None:
    with _tls(fast) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        data, took = _until_closed(sock)
    assert data.startswith(b"HTTP/1.1 200 ")
    assert took < 4


def test_connections_per_address_are_capped(tmp_path: Path, caplog) -> None:
    settings = make_settings(tmp_path / "data", max_connections_per_address=3)
    with run_service(settings) as running:
        held = [_tls(running) for _ in range(3)]
        try:
            raw = socket.create_connection(("127.0.0.1", settings.port), timeout=5)
            with raw:
                data, took = _until_closed(raw, 5)
            assert data == b"" and took < 2
            assert "SEALBOX_MAX_CONNECTIONS_PER_ADDRESS" in caplog.text
        finally:
            for sock in held:
                sock.close()
        time.sleep(0.3)
        with running.client() as c:  # room again once they closed
            assert c.get("/health").status_code == 200


def test_normal_clients_are_unaffected(fast) -> None:
    with fast.client() as c:
        for _ in range(5):
            assert c.get("/health").status_code == 200
