"""The connection layer against odd and hostile clients, over real TLS with raw sockets."""

from __future__ import annotations

import json
import logging
import ssl
import time
from collections.abc import Iterator

import pytest

from sealbox.service.framing import HTTP1_ONLY, ONE_HOST
from tests.service._raw import connect, read_all, read_until_closed
from tests.service.conftest import Running, make_settings, run_service


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One service for the module, with a body timeout short enough to wait for."""
    data = tmp_path_factory.mktemp("service") / "data"
    with run_service(make_settings(data, body_timeout=1.0)) as running:
        yield running


def _send(sock: ssl.SSLSocket, data: bytes) -> None:
    """Send, accepting that the server may already have closed the connection."""
    try:
        sock.sendall(data)
    except (ssl.SSLError, OSError):
        pass


def _json_error(answer: bytes, status: int) -> dict[str, str]:
    """The JSON error of a one-answer, closed connection, checked for its framing."""
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.lower().split(b"\r\n")
    assert lines[0].startswith(b"http/1.1 %d " % status), answer
    assert b"content-type: application/json" in lines
    assert b"connection: close" in lines
    assert b"strict-transport-security: max-age=63072000; includesubdomains" in lines
    assert b"x-content-type-options: nosniff" in lines
    error: dict[str, str] = json.loads(body)  # nothing after it: no second answer
    return error


# Each is refused by uvicorn's HTTP parser (httptools; h11 alike), not by sealbox's checks.
UNPARSABLE = {
    "two Content-Length": b"POST /auth/register HTTP/1.1\r\nHost: localhost\r\n"
    b"Content-Length: 2\r\nContent-Length: 5\r\n\r\n{}xyz",
    "chunked, identity": b"POST /auth/register HTTP/1.1\r\nHost: localhost\r\n"
    b"Transfer-Encoding: chunked, identity\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    "obs-fold": b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-A: a\r\n Content-Length: 5\r\n\r\n",
    "bare LF": b"GET /health HTTP/1.1\nHost: localhost\n\n",
    "NUL in a value": b"GET /users/me HTTP/1.1\r\nHost: localhost\r\n"
    b"Authorization: Bearer canary-token-4c1e\x00\r\n\r\n",
    "CR in a value": b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-A: a\rb\r\n\r\n",
    "authority-form": b"CONNECT localhost:443 HTTP/1.1\r\nHost: localhost\r\n\r\n",
    "negative Content-Length": b"POST /auth/register HTTP/1.1\r\nHost: localhost\r\n"
    b"Content-Length: -1\r\n\r\n",
}


@pytest.mark.parametrize("request_bytes", UNPARSABLE.values(), ids=UNPARSABLE.keys())
def test_a_request_the_http_parser_refuses_gets_one_400_then_a_close(
    service: Running, request_bytes: bytes
) -> None:
    # uvicorn's own text/plain 400 (docs/service.md): nothing after it is answered, and
    # nothing of the request comes back.
    with connect(service) as sock:
        sock.sendall(request_bytes + b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        answer = read_all(sock, 5.0, answers=None)
    assert answer.startswith(b"HTTP/1.1 400 "), answer
    assert answer.count(b"HTTP/1.1 ") == 1
    assert b"canary" not in answer


def test_a_head_over_the_limit_gets_the_security_headers_with_its_431(service: Running) -> None:
    big = b"X-Big: " + b"a" * service.settings.max_header_bytes + b"\r\n"
    with connect(service) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n" + big + b"\r\n")
        answer = read_all(sock, 5.0)
    assert _json_error(answer, 431)["error"] == "headers_too_large"


@pytest.mark.parametrize(
    "head",
    [
        b"GET /health HTTP/1.1\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n",
        b"GET /health HTTP/1.0\r\nHost: localhost\r\nhost: evil.example\r\n\r\n",
    ],
    ids=["none", "two", "two in HTTP/1.0"],
)
def test_a_request_without_exactly_one_host_is_refused_with_400(
    service: Running, head: bytes
) -> None:
    with connect(service) as sock:
        sock.sendall(head)
        answer = read_all(sock, 5.0)
    assert _json_error(answer, 400) == {"error": "invalid_request", "message": ONE_HOST}
    assert b"evil.example" not in answer


def test_the_http2_preface_is_refused_at_once_rather_than_held_open(service: Running) -> None:
    # The preface's "PRI * HTTP/2.0" head was handed to the HTTP parser alone, which
    # waited for the rest while the rest waited for an answer: no timeout ran, and the
    # connection stayed open for good.
    # The framing layer's 400, then a close from the server: a connection held open until
    # a timeout would end with a 408, or not at all (read_until_closed fails then).
    with connect(service) as sock:
        sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        answer = read_until_closed(sock)
    assert _json_error(answer, 400) == {"error": "invalid_request", "message": HTTP1_ONLY}


def test_a_request_line_without_an_http_version_is_refused_not_served(service: Running) -> None:
    # HTTP/0.9's "GET /path" was answered 200 by the HTTP parser, with no Host check.
    with connect(service) as sock:
        sock.sendall(b"GET /health\r\n\r\n")
        answer = read_all(sock, 5.0)
    assert _json_error(answer, 400) == {"error": "invalid_request", "message": HTTP1_ONLY}


def test_a_client_that_names_the_host_nowhere_is_told_one_is_needed(service: Running) -> None:
    with connect(service) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\n\r\n")
        answer = read_all(sock, 5.0)
    assert b"never two" not in answer
    assert b"exactly one Host header" in answer


def test_an_http10_request_without_a_host_is_still_answered(service: Running) -> None:
    with connect(service) as sock:
        sock.sendall(b"GET /health HTTP/1.0\r\n\r\n")
        answer = read_all(sock, 5.0)
    assert answer.startswith(b"HTTP/1.1 200 ")


def test_a_chunked_body_over_the_limit_gets_413_and_nothing_after_it_is_read(
    service: Running,
) -> None:
    chunk = b"4000\r\n" + b"a" * 0x4000 + b"\r\n"
    over = service.settings.max_body_bytes // 0x4000 + 1
    with connect(service) as sock:
        sock.sendall(
            b"POST /auth/register HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * over
        )
        sock.settimeout(10)
        answer = b""
        while b"}" not in answer:
            data = sock.recv(65536)
            assert data, answer
            answer += data
        # The body ends, and a request follows: a connection kept open would answer it.
        _send(sock, b"0\r\n\r\nGET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        answer += read_all(sock, 5.0, answers=None)
    head = answer.partition(b"\r\n\r\n")[0].lower()
    assert head.startswith(b"http/1.1 413 ")
    assert b"connection: close" in head.split(b"\r\n")
    assert b'"error":"payload_too_large"' in answer
    assert answer.count(b"HTTP/1.1 ") == 1


def test_a_body_that_stops_after_100_continue_gets_408_and_a_close(service: Running) -> None:
    with connect(service) as sock:
        sock.sendall(
            b"POST /auth/register HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
            b"Content-Length: 100\r\n\r\n"
        )
        answer = read_all(sock, 10)
    interim = b"HTTP/1.1 100 Continue\r\n\r\n"
    assert answer.startswith(interim)
    assert _json_error(answer[len(interim) :], 408)["error"] == "request_timeout"


def test_an_over_limit_content_length_with_expect_gets_413_without_100_continue(
    service: Running,
) -> None:
    with connect(service) as sock:
        sock.sendall(
            b"POST /auth/register HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n"
            b"Content-Length: 99999999\r\n\r\n"
        )
        answer = read_all(sock, 5.0)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"100 Continue" not in answer


def test_refused_requests_leave_no_request_data_in_the_log(
    service: Running, caplog: pytest.LogCaptureFixture
) -> None:
    secret = b"canary-secret-7a31"
    refused = [
        # ambiguous framing, a parser refusal, a missing Host, an over-limit body, a timeout
        (
            b"POST /auth/token?password=%s HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s"
            b"\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n%s"
        ),
        (
            b"POST /auth/token?password=%s HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s"
            b"\x00\r\nContent-Length: 18\r\n\r\n%s"
        ),
        (
            b"POST /auth/token?password=%s HTTP/1.1\r\nAuthorization: Bearer %s\r\n"
            b"Content-Length: 18\r\n\r\n%s"
        ),
        (
            b"POST /auth/register?password=%s HTTP/1.1\r\nHost: localhost\r\n"
            b"Authorization: Bearer %s\r\nContent-Length: 99999999\r\n\r\n%s"
        ),
        (
            b"POST /auth/register?password=%s HTTP/1.1\r\nHost: localhost\r\n"
            b"Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n%s"
        ),
    ]
    with caplog.at_level(logging.DEBUG):
        for template in refused:
            with connect(service) as sock:
                sock.sendall(template % (secret, secret, secret))
                answer = read_all(sock, 5.0)
            assert answer.startswith((b"HTTP/1.1 400 ", b"HTTP/1.1 413 ", b"HTTP/1.1 408 "))
        time.sleep(0.2)  # the server's last log lines of the closed connection
    assert caplog.records, "the refusals were logged"
    assert secret.decode() not in caplog.text


def test_an_answer_given_before_a_chunked_body_ended_closes_the_connection(
    service: Running,
) -> None:
    # The 404 comes before the body is read: the rest is not drained until the body
    # timeout, the connection ends with the answer.
    with connect(service) as sock:
        sock.sendall(
            b"POST /nowhere HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"4\r\nabcd\r\n"
        )
        answer = read_all(sock, 5.0)
    head = answer.partition(b"\r\n\r\n")[0].lower().split(b"\r\n")
    assert head[0].startswith(b"http/1.1 404 "), answer
    assert b"connection: close" in head
