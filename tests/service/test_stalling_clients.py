"""Clients that hold a connection without sending a request or reading what they asked
for are cut off, over real TLS with raw sockets.

As in test_slow_clients, each test asserts what the server did (closed the connection,
said why in its log), never how long it took: a read waits at most HANG_GUARD seconds,
which only turns a server that never closes into a failure.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from pathlib import Path

import pytest

from tests.service._raw import read_until_closed
from tests.service.conftest import Running
from tests.service.test_slow_clients import HANG_GUARD, _serving


@pytest.fixture
def closes(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="sealbox.service")
    return caplog


# Far more answers than the kernel's buffers on both ends hold: /openapi.json is tens of KiB.
PIPELINED = 400


def _tls(running: Running, receive_buffer: int | None = None) -> ssl.SSLSocket:
    ctx = ssl.create_default_context(cafile=str(running.ca))
    raw = socket.socket()
    if receive_buffer is not None:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    raw.settimeout(HANG_GUARD)
    raw.connect(("127.0.0.1", running.settings.port))
    return ctx.wrap_socket(raw, server_hostname="localhost")


def _one_answer(sock: ssl.SSLSocket, before: bytes = b"") -> bytes:
    """Send ``before`` and a GET /health, and read the answer."""
    sock.sendall(before + b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
    data = b""
    while not data.endswith(b'{"status":"ok"}'):
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed instead of answering: {data!r}"
        data += chunk
    return data


@pytest.mark.parametrize("between", [b"\r\n", b"\n", b"\r\n\r\n"], ids=["CRLF", "LF", "2 CRLF"])
def test_empty_lines_between_requests_do_not_hold_a_connection_open(
    tmp_path: Path, between: bytes
) -> None:
    # An empty line reached uvicorn's protocol, which cancelled its keep-alive timeout
    # on any data and arms it again only after an answer: one CRLF after an answer held
    # the connection open for good.
    with _serving(tmp_path / "data", keep_alive_timeout=1.0) as running, _tls(running) as sock:
        assert _one_answer(sock).startswith(b"HTTP/1.1 200 ")
        sock.sendall(between)
        assert read_until_closed(sock, HANG_GUARD) == b""


def test_empty_lines_before_a_request_still_let_it_be_answered(tmp_path: Path) -> None:
    # RFC 9112 §2.2: a server ignores at least one empty line before a request.
    with _serving(tmp_path / "data") as running, _tls(running) as sock:
        assert _one_answer(sock).startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"\r\n")
        assert _one_answer(sock).startswith(b"HTTP/1.1 200 ")
        assert _one_answer(sock, b"\r\n\n\r\n").startswith(b"HTTP/1.1 200 ")


def test_a_client_that_never_reads_its_answers_is_cut_off(tmp_path: Path, closes) -> None:
    # Pipelined requests for large answers, none of them read: the answers filled the
    # kernel's buffers, uvicorn waited for room to write the next one, and no timeout
    # ran while it waited — the connection and its task were held for as long as the
    # client liked.
    with (
        _serving(tmp_path / "data", body_timeout=1.0) as running,
        _tls(running, receive_buffer=4096) as sock,
        _tls(running) as control,
    ):
        sock.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: localhost\r\n\r\n" * PIPELINED)
        deadline = time.monotonic() + HANG_GUARD
        while "read nothing of its answers for 1 s" not in closes.text:
            assert time.monotonic() < deadline, "the server waited for the client for good"
            time.sleep(0.1)
        # The others are served meanwhile, and after.
        assert _one_answer(control).startswith(b"HTTP/1.1 200 ")
        answered = read_until_closed(sock, HANG_GUARD)
    assert answered.count(b"HTTP/1.1 200 ") < PIPELINED
