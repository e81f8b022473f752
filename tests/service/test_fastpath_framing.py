"""HTTP/1.1 framing on the lean entries' paths and on an ordinary route, over real TLS.

The transit entry (``POST /v1/keys/{name}/{op}``) and ``GET /users/me`` answer before
FastAPI; each malformed request here gets the same refusal on them as on a route that
FastAPI answers, and no byte of a body is ever read as a request of its own.
"""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import pytest

from sealbox.service.framing import CHUNKED_ONLY
from tests.service._raw import connect, read_after, read_all, read_until_closed
from tests.service.conftest import Running, make_settings, run_service

# A path of each kind: the transit entry's, the /users/me entry's, a FastAPI route's.
TRANSIT = b"POST /v1/keys/k1/encrypt HTTP/1.1\r\n"
ME = b"GET /users/me HTTP/1.1\r\n"
ROUTE = b"POST /auth/register HTTP/1.1\r\n"
HEADS = {"transit entry": TRANSIT, "users/me entry": ME, "route": ROUTE}
BODY = b'{"plaintext": "aGVsbG8="}'
CHUNKED_BODY = b"%x\r\n" % len(BODY) + BODY + b"\r\n0\r\n\r\n"
NEXT = b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n"
COMMON = b"Host: localhost\r\nContent-Type: application/json\r\n"


@pytest.fixture(scope="module")
def service(module_service: Running) -> Running:
    """One service for the module: these tests read it and change nothing others read."""
    return module_service


def _refusal(answer: bytes, status: int) -> dict[str, str]:
    """The one JSON refusal of a closed connection, with its security headers."""
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.lower().split(b"\r\n")
    assert lines[0].startswith(b"http/1.1 %d " % status), answer
    assert b"content-type: application/json" in lines
    assert b"connection: close" in lines
    assert b"x-content-type-options: nosniff" in lines
    assert b"strict-transport-security: max-age=63072000; includesubdomains" in lines
    assert answer.count(b"HTTP/1.1 ") == 1, "a request after the refusal was answered"
    error: dict[str, str] = json.loads(body)
    return error


CODINGS = {
    "gzip, chunked": b"Transfer-Encoding: gzip, chunked\r\n",
    "gzip then chunked": b"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
    "chunked twice": b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
    "deflate,chunked": b"Transfer-Encoding: deflate,chunked\r\n",
}


@pytest.mark.parametrize("path", HEADS.values(), ids=HEADS.keys())
@pytest.mark.parametrize("coding", CODINGS.values(), ids=CODINGS.keys())
def test_a_transfer_coding_besides_chunked_is_a_json_400_on_every_path(
    service: Running, path: bytes, coding: bytes
) -> None:
    # uvicorn's httptools parser framed these by the last coding and handed the body on
    # still coded, where a proxy in front may have decoded it.
    with connect(service) as sock:
        sock.sendall(path + COMMON + coding + b"\r\n" + CHUNKED_BODY + NEXT)
        answer = read_all(sock, 5.0)
    assert _refusal(answer, 400) == {"error": "invalid_request", "message": CHUNKED_ONLY}


@pytest.mark.parametrize("path", HEADS.values(), ids=HEADS.keys())
def test_chunked_in_any_letter_case_is_still_read(service: Running, path: bytes) -> None:
    with connect(service) as sock:
        sock.sendall(path + COMMON + b"Transfer-Encoding: Chunked\r\n\r\n" + CHUNKED_BODY)
        answer = read_all(sock, 3.0)
    # Refused for its missing token or fields, never for its framing.
    assert answer.startswith((b"HTTP/1.1 401 ", b"HTTP/1.1 422 ")), answer


@pytest.mark.parametrize("path", [TRANSIT, ME], ids=["transit entry", "users/me entry"])
def test_a_request_inside_a_body_is_never_answered(service: Running, path: bytes) -> None:
    inner = b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n"
    body = BODY + inner
    with connect(service) as sock:
        sock.sendall(path + COMMON + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        answer = read_all(sock, 10.0)
        after = read_after(sock)
    assert answer.count(b"HTTP/1.1 ") == 1, answer
    assert b'"status"' not in answer  # /health's answer
    assert after == b"", after


@pytest.mark.parametrize(
    ("path", "limit"),
    [(TRANSIT, "transit_max_body_bytes"), (ROUTE, "max_body_bytes")],
    ids=["transit entry", "route"],
)
def test_a_content_length_over_the_limit_is_413_before_the_body(
    service: Running, path: bytes, limit: str
) -> None:
    size = getattr(service.settings, limit) + 1
    with connect(service) as sock:
        sock.sendall(path + COMMON + b"Content-Length: %d\r\n\r\n" % size + b"{")
        answer = read_all(sock, 5.0)
    error = _refusal(answer, 413)
    assert error["error"] == "payload_too_large"


@pytest.mark.parametrize(
    ("path", "limit"),
    [(TRANSIT, "transit_max_body_bytes"), (ROUTE, "max_body_bytes")],
    ids=["transit entry", "route"],
)
def test_an_endless_chunked_body_is_cut_off_just_past_the_limit(
    service: Running, path: bytes, limit: str
) -> None:
    # 100 MiB offered: the 413 comes once the limit is passed, not after the whole body.
    chunk = b"10000\r\n" + b"a" * 0x10000 + b"\r\n"
    sent = 0
    answer = b""
    with connect(service) as sock:
        sock.sendall(path + COMMON + b"Transfer-Encoding: chunked\r\n\r\n")
        while sent < 100 * 2**20:
            sock.settimeout(10)  # a chunk cut short would leave the server waiting for it
            try:
                sock.sendall(chunk)
            except (ssl.SSLError, OSError):
                break
            sent += 0x10000
            # Short of the limit an answer is only looked for; past it, given time to come.
            sock.settimeout(0.05 if sent > getattr(service.settings, limit) else 0.0)
            try:
                answer += sock.recv(65536)
            except (TimeoutError, ssl.SSLWantReadError):
                continue
            except (ssl.SSLError, OSError):
                break
            if answer:
                break
        answer += read_all(sock, 5.0)
    assert sent < 100 * 2**20, "the whole body was read before any answer"
    assert sent <= getattr(service.settings, limit) + 64 * 0x10000
    assert _refusal(answer, 413)["error"] == "payload_too_large"


@pytest.mark.parametrize("path", HEADS.values(), ids=HEADS.keys())
def test_a_head_of_64_kib_is_a_json_431_on_every_path(service: Running, path: bytes) -> None:
    with connect(service) as sock:
        try:
            sock.sendall(path + COMMON + b"X-Big: " + b"a" * 65536 + b"\r\n\r\n" + NEXT)
        except (ssl.SSLError, OSError):
            pass  # the refusal came before the whole head was sent
        answer = read_all(sock, 5.0)
    assert _refusal(answer, 431)["error"] == "headers_too_large"


@pytest.mark.parametrize("path", HEADS.values(), ids=HEADS.keys())
def test_a_hundred_small_headers_are_served_as_usual(service: Running, path: bytes) -> None:
    many = b"".join(b"X-H%d: v\r\n" % n for n in range(100))
    with connect(service) as sock:
        sock.sendall(path + COMMON + many + b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY)
        answer = read_all(sock, 3.0)
    # Refused for its missing token or fields: the headers themselves are fine.
    assert answer.startswith((b"HTTP/1.1 401 ", b"HTTP/1.1 422 ")), answer


def test_a_stalled_body_on_the_transit_entry_gets_408_while_others_are_served(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path / "data", body_timeout=1.0)
    with run_service(settings) as running, connect(running) as sock:
        sock.sendall(TRANSIT + COMMON + b"Content-Length: 1000\r\n\r\n" + BODY[:10])
        with connect(running) as other:
            other.sendall(NEXT)
            assert read_all(other, 2.0).startswith(b"HTTP/1.1 200 ")
        answer = read_until_closed(sock)
    error = _refusal(answer, 408)
    assert error == {
        "error": "request_timeout",
        "message": "the request body did not arrive within 1 s",
    }


@pytest.mark.parametrize("kind", [b"text/plain", b"application/json"], ids=["415", "422"])
@pytest.mark.parametrize("path", HEADS.values(), ids=HEADS.keys())
def test_after_a_refused_body_the_next_pipelined_request_is_answered_not_the_body(
    service: Running, path: bytes, kind: bytes
) -> None:
    # The body is a request to /users/me: whether the refusal read the body or not, it
    # is skipped whole, and the request after it answered.
    inner = b"GET /users/me HTTP/1.1\r\nHost: localhost\r\n\r\n"
    head = path + b"Host: localhost\r\nContent-Type: " + kind + b"\r\n"
    with connect(service) as sock:
        sock.sendall(head + b"Content-Length: %d\r\n\r\n" % len(inner) + inner + NEXT)
        # Answers leave in order: one to the body would come before the one to NEXT.
        answer = read_all(sock, 10.0, answers=2)
    assert answer.count(b"HTTP/1.1 ") == 2, answer
    assert answer.endswith(b'{"status":"ok"}'), answer
    assert b"www-authenticate" not in answer.partition(b"}HTTP/1.1 ")[2].lower()
