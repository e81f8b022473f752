"""A chunked body's trailer fields are held to the head's limit, over real TLS.

uvicorn's HTTP parser (httptools) keeps every trailer field it reads, with no limit of its
own: a client sending trailer lines for the whole body timeout grew the serving process
by as much as it sent (about a gigabyte in seconds on one connection).
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator

import pytest

from tests.service._raw import connect, read_until_closed
from tests.service.conftest import Running, make_settings, run_service


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    data = tmp_path_factory.mktemp("service") / "data"
    with run_service(make_settings(data)) as running:
        yield running


_CHUNKED_HEAD = (
    b"POST /auth/register HTTP/1.1\r\nHost: localhost\r\n"
    b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n"
)


def _send_trailers(sock: ssl.SSLSocket, total: int) -> None:
    """Trailer lines of 1000 bytes, up to ``total`` bytes, as long as the server takes them."""
    line = b"X-Trailer: " + b"a" * 987 + b"\r\n"
    try:
        for _ in range(total // len(line) + 1):
            sock.sendall(line)
    except (ssl.SSLError, OSError):
        pass  # refused and closed: the answer is still to be read


def test_trailers_larger_than_the_head_limit_get_431_and_a_close(service: Running) -> None:
    # Many times the limit: a server that kept reading would still be reading here.
    with connect(service) as sock:
        sock.sendall(_CHUNKED_HEAD)
        _send_trailers(sock, 8 * service.settings.max_header_bytes)
        answer = read_until_closed(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.lower().split(b"\r\n")
    assert lines[0].startswith(b"http/1.1 431 "), answer
    assert b"connection: close" in lines
    assert json.loads(body) == {
        "error": "headers_too_large",
        "message": "the request trailers are too large",
    }


def test_trailers_within_the_head_limit_are_still_read(service: Running) -> None:
    trailers = b"X-Checksum: abc\r\nX-Other: 1\r\n\r\n"
    with connect(service) as sock:
        sock.sendall(_CHUNKED_HEAD + trailers + b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        sock.settimeout(30)
        answer = b""
        while answer.count(b'{"status":"ok"}') < 1:
            data = sock.recv(65536)
            assert data, answer
            answer += data
    # The body "{}" reached the route (refused there for its content), and the request
    # after it was answered on the same connection.
    assert answer.startswith(b"HTTP/1.1 422 "), answer
    assert answer.count(b"HTTP/1.1 ") == 2
