"""Pipelined requests (RFC 9112 §9.3.2): answers leave in the order the requests came.

A client may send its next request before the answer to the one before it. When the
server refuses that next request itself — the connection layer's framing checks and
timeouts, uvicorn's parser, the body limit — the refusal still comes after the whole
answer to the request before it, then the connection closes.

The first request of each test goes to a route added for these tests, which holds it
until the test lets it go, so the second is read while the first is being handled.
Over real TLS with raw sockets, against the real server.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response, StreamingResponse

from sealbox.service.framing import AMBIGUOUS_LENGTH, ONE_HOST
from sealbox.service.settings import ServiceSettings
from tests.service._raw import connect, read_all
from tests.service.conftest import Running, make_settings, run_service

TIMEOUT = 1.0  # the header and body timeouts of this module's service


@dataclass
class Gate:
    """Holds a request to ``/held/{name}`` until :attr:`release` is set."""

    delay: float = 0.0  # seconds the route still waits, on the server's clock, once let go
    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


_GATES: dict[str, Gate] = {}


async def _held(name: str, streamed: bool = False) -> Response:
    gate = _GATES[name]
    gate.entered.set()
    await asyncio.to_thread(gate.release.wait, 30)
    # Timers of the server armed before the release expire before this sleep ends.
    await asyncio.sleep(gate.delay)
    if streamed:

        async def parts() -> AsyncIterator[bytes]:
            yield b'{"held": '
            await asyncio.sleep(0)
            yield json.dumps(name).encode() + b"}"

        return StreamingResponse(parts(), media_type="application/json")
    return JSONResponse({"held": name})


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    data = tmp_path_factory.mktemp("service") / "data"
    settings = make_settings(data, header_timeout=TIMEOUT, body_timeout=TIMEOUT)
    with run_service(settings) as running:
        app: FastAPI = running.server.config.app
        app.add_api_route("/held/{name}", _held, methods=["GET", "HEAD"])
        yield running


def _gate(delay: float = 0.0) -> tuple[str, Gate]:
    name = uuid.uuid4().hex[:12]
    _GATES[name] = gate = Gate(delay)
    return name, gate


def _connect(service: Running) -> ssl.SSLSocket:
    """A TLS socket whose writes leave at once: with Nagle's algorithm a second request
    would wait for the server to acknowledge the first (a delayed ACK, tens of ms)."""
    sock = connect(service)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _held_request(name: str, method: str = "GET", query: str = "") -> bytes:
    return f"{method} /held/{name}{query} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()


def _send(sock: ssl.SSLSocket, data: bytes) -> None:
    """Send, accepting that the server may already have closed the connection."""
    try:
        sock.sendall(data)
    except (ssl.SSLError, OSError):
        pass


def _read_so_far(service: Running) -> None:
    """Return once the server has read what was sent to it before this call.

    A request on another connection is answered only after several turns of the
    server's event loop, and the first of them reads every connection it is reading
    that has data waiting.
    """
    with connect(service) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        assert read_all(sock, 10).startswith(b"HTTP/1.1 200 ")


@dataclass
class Answer:
    status: int
    headers: dict[bytes, bytes]
    body: bytes


def _answers(data: bytes, *, bodiless: tuple[int, ...] = (), partial: bool = False) -> list[Answer]:
    """The answers in ``data``, in order, read by their framing (none left over, unless
    ``partial``: then the whole ones).

    ``bodiless`` gives the positions of answers to ``HEAD`` requests.
    """
    answers: list[Answer] = []
    while data:
        head, found, data = data.partition(b"\r\n\r\n")
        if partial and not found:
            break
        assert found, f"an unfinished answer: {head!r}"
        lines = head.split(b"\r\n")
        assert lines[0].startswith(b"HTTP/1.1 "), lines[0]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        body = b""
        if len(answers) in bodiless:
            pass
        elif headers.get(b"transfer-encoding") == b"chunked":
            while True:
                size_line, _, data = data.partition(b"\r\n")
                size = int(size_line, 16)
                body, data = body + data[:size], data[size + 2 :]
                if size == 0:
                    break
        else:
            length = int(headers.get(b"content-length", b"0"))
            if partial and len(data) < length:
                break
            assert len(data) >= length, f"a cut answer: {head!r}"
            body, data = data[:length], data[length:]
        answers.append(Answer(int(lines[0][9:12]), headers, body))
    return answers


def _check_held(answer: Answer, name: str) -> None:
    assert answer.status == 200, answer
    assert json.loads(answer.body) == {"held": name}


def _check_refusal(answer: Answer, status: int, error: dict[str, str] | bytes) -> None:
    assert answer.status == status, answer
    assert answer.headers.get(b"connection") == b"close"
    if isinstance(error, bytes):  # uvicorn's own text/plain 400
        assert answer.body == error
        return
    assert answer.headers[b"content-type"] == b"application/json"
    assert answer.headers[b"strict-transport-security"].startswith(b"max-age=")
    assert json.loads(answer.body) == error


@dataclass(frozen=True)
class Refused:
    request: bytes  # the pipelined second request
    status: int
    error: dict[str, str] | bytes
    delay: float = 0.0  # how long the first request is held after the test lets it go


MAX_HEADER_BYTES = ServiceSettings.model_fields["max_header_bytes"].default
MAX_BODY_BYTES = ServiceSettings.model_fields["max_body_bytes"].default


def _head_over_limit() -> bytes:
    big = b"X-Big: " + b"a" * MAX_HEADER_BYTES + b"\r\n"
    return b"GET /health HTTP/1.1\r\nHost: localhost\r\n" + big + b"\r\n"


REFUSED = {
    # The connection layer's framing checks.
    "head over the limit": Refused(
        _head_over_limit(),
        431,
        {"error": "headers_too_large", "message": "the request head is too large"},
    ),
    "no Host": Refused(
        b"GET /health HTTP/1.1\r\n\r\n", 400, {"error": "invalid_request", "message": ONE_HOST}
    ),
    "two Hosts": Refused(
        b"GET /health HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n",
        400,
        {"error": "invalid_request", "message": ONE_HOST},
    ),
    "Content-Length and Transfer-Encoding": Refused(
        b"POST /auth/register HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        {"error": "invalid_request", "message": AMBIGUOUS_LENGTH},
    ),
    "a chunk size that is not hexadecimal": Refused(
        b"POST /auth/register HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
        400,
        {"error": "invalid_request", "message": "a chunk size is not hexadecimal"},
    ),
    # The connection layer's timeouts: the first request is held past them.
    "a head that stops": Refused(
        b"GET /health HTTP/1.1\r\nHost: loc",
        408,
        {
            "error": "request_timeout",
            "message": f"the request head did not arrive within {TIMEOUT:g} s",
        },
        delay=TIMEOUT,
    ),
    "a body that stops": Refused(
        b"POST /auth/register HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n{",
        408,
        {
            "error": "request_timeout",
            "message": f"the request body did not arrive within {TIMEOUT:g} s",
        },
        delay=TIMEOUT,
    ),
    # uvicorn's HTTP parser: its text/plain 400.
    "a NUL in a header value": Refused(
        b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-A: a\x00b\r\n\r\n",
        400,
        b"Invalid HTTP request received.",
    ),
    # The body limit, with a first request held past the body timeout.
    "a Content-Length over the limit": Refused(
        b"POST /auth/register HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"Content-Length: 99999999\r\n\r\n",
        413,
        {
            "error": "payload_too_large",
            "message": f"the request body is larger than {MAX_BODY_BYTES} bytes",
        },
        delay=TIMEOUT,
    ),
}


@pytest.mark.parametrize("together", [True, False], ids=["in one send", "while handled"])
@pytest.mark.parametrize("refused", REFUSED.values(), ids=REFUSED.keys())
def test_a_refused_pipelined_request_is_answered_after_the_one_before_it(
    service: Running, refused: Refused, together: bool
) -> None:
    name, gate = _gate(refused.delay)
    with _connect(service) as sock:
        if together:
            sock.sendall(_held_request(name) + refused.request)
        else:
            sock.sendall(_held_request(name))
            assert gate.entered.wait(10), "the first request reached the app"
            _send(sock, refused.request)
        _read_so_far(service)
        gate.release.set()
        received = read_all(sock, 10, answers=None)  # the refusal's close ends it
    answers = _answers(received)
    assert len(answers) == 2, received
    _check_held(answers[0], name)
    _check_refusal(answers[1], refused.status, refused.error)


@pytest.mark.parametrize("kind", ["streamed", "HEAD"])
def test_the_refusal_waits_for_a_streamed_answer_and_an_answer_to_head(
    service: Running, kind: str
) -> None:
    name, gate = _gate()
    if kind == "HEAD":
        first = _held_request(name, method="HEAD")
    else:
        first = _held_request(name, query="?streamed=true")
    with _connect(service) as sock:
        sock.sendall(first)
        assert gate.entered.wait(10)
        _send(sock, REFUSED["no Host"].request)
        _read_so_far(service)
        gate.release.set()
        received = read_all(sock, 10, answers=None)  # the refusal's close ends it
    answers = _answers(received, bodiless=(0,) if kind == "HEAD" else ())
    assert len(answers) == 2, received
    if kind == "HEAD":
        assert answers[0].status == 200
        assert answers[0].headers[b"content-length"] == b"%d" % len(
            json.dumps({"held": name}, separators=(",", ":"))
        )
    else:
        assert answers[0].headers[b"transfer-encoding"] == b"chunked"
        _check_held(answers[0], name)
    _check_refusal(answers[1], 400, {"error": "invalid_request", "message": ONE_HOST})


def test_pipelined_requests_that_are_accepted_are_answered_in_order_on_an_open_connection(
    service: Running,
) -> None:
    name, gate = _gate()
    register = b'{"username": "pipelined-user", "password": "short"}'
    with _connect(service) as sock:
        sock.sendall(
            _held_request(name)
            + b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n"
            + b"POST /auth/register HTTP/1.1\r\nHost: localhost\r\n"
            + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(register)
            + register
        )
        _read_so_far(service)
        gate.release.set()
        received = b""
        sock.settimeout(10)
        while len(_answers(received, partial=True)) < 3:
            data = sock.recv(65536)
            assert data, received
            received += data
        # Still open: one more request is answered.
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        received += read_all(sock, 10)
    answers = _answers(received)
    assert [a.status for a in answers] == [200, 200, 422, 200]
    _check_held(answers[0], name)
    assert json.loads(answers[1].body) == {"status": "ok"}
    assert json.loads(answers[2].body)["error"] == "weak_password"
