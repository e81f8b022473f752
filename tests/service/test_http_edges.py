"""HTTP at its edges, over real TLS with raw sockets: framing, errors, redirects."""

from __future__ import annotations

import json
import socket
import ssl

import pytest

from sealbox.service.framing import AMBIGUOUS_LENGTH
from tests.service._raw import connect, read_all
from tests.service.conftest import Running, bearer, login


@pytest.fixture(scope="module")
def service(module_service: Running) -> Running:
    """One service for the module: these tests read it and change nothing others read."""
    return module_service


def _read_answer(sock: ssl.SSLSocket) -> bytes:
    """One whole answer (head and ``Content-Length`` body) on a connection that stays open."""
    sock.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed after {head + body!r}"
        body += chunk
    assert len(body) == length, "more than one answer arrived"
    return head + b"\r\n\r\n" + body


def test_content_length_with_transfer_encoding_is_400_and_closes(service) -> None:
    body = b'{"username": "x", "password": "y"}'
    smuggled = (
        b"POST /auth/register HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"Content-Length: "
        + str(len(body)).encode()
        + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
        + hex(len(body))[2:].encode()
        + b"\r\n"
        + body
        + b"\r\n0\r\n\r\n"
        + b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n"  # pipelined behind it
    )
    with connect(service) as sock:
        sock.sendall(smuggled)
        answer = read_all(sock)
    head, _, rest = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"connection: close" in head.lower()
    error = json.loads(rest[: rest.index(b"}") + 1])
    assert error == {"error": "invalid_request", "message": AMBIGUOUS_LENGTH}
    assert answer.count(b"HTTP/1.1 ") == 1  # the pipelined request was not answered


def test_transfer_encoding_before_content_length_is_refused_too(service) -> None:
    request = (
        b"POST /auth/token HTTP/1.1\r\nHost: localhost\r\ntransfer-encoding: chunked\r\n"
        b"content-length: 5\r\n\r\n0\r\n\r\n"
    )
    with connect(service) as sock:
        sock.sendall(request)
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert AMBIGUOUS_LENGTH.encode() in answer


def test_a_request_head_over_the_limit_is_431_and_closes(service) -> None:
    limit = service.settings.max_header_bytes
    request = b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * limit + b"\r\n\r\n"
    with connect(service) as sock:
        sock.sendall(request)
        answer = read_all(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 Request Header Fields Too Large")
    assert b"connection: close" in head.lower()
    assert json.loads(body)["error"] == "headers_too_large"


def test_a_keep_alive_connection_survives_a_500(service) -> None:
    app = service.server.config.app

    def fail() -> None:
        raise RuntimeError("canary-internal-detail-9d2f")

    app.add_api_route("/test-fails", fail)
    with connect(service) as sock:
        sock.sendall(b"GET /test-fails HTTP/1.1\r\nHost: localhost\r\n\r\n")
        answer = _read_answer(sock)
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        answer += _read_answer(sock)
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")  # still open
        third = _read_answer(sock)
    assert third.startswith(b"HTTP/1.1 200 ")
    first, second = answer.split(b"HTTP/1.1 ")[1:3]
    assert first.startswith(b"500 ")
    assert b'"error":"internal_error"' in first
    assert b"canary-internal-detail" not in first
    assert second.startswith(b"200 ")


def test_partial_failure_codes_without_a_body_are_refused(service) -> None:
    from tests.service._transit import ALL_SCOPES, add_user

    add_user(service.settings, "ops", list(ALL_SCOPES))
    with service.client() as c:
        token = login(c, "ops").json()["access_token"]
        h = bearer(token)
        assert c.post("/v1/keys/k", json={"type": "aes256-gcm"}, headers=h).status_code == 201
        batch = [{"plaintext": "aGk="}, {"plaintext": "not base64!"}]
        for code in (204, 205, 304, 301):
            r = c.post(
                "/v1/keys/k/encrypt",
                json={"batch_input": batch, "partial_failure_response_code": code},
                headers=h,
            )
            assert r.status_code == 422, (code, r.text)
            assert "carries a body" in r.text
        r = c.post(
            "/v1/keys/k/encrypt",
            json={"batch_input": batch, "partial_failure_response_code": 207},
            headers=h,
        )
        assert r.status_code == 207 and len(r.json()["batch_results"]) == 2


def test_a_trailing_slash_is_not_redirected_to_the_host_header(service) -> None:
    with connect(service) as sock:
        sock.sendall(b"GET /health/ HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 404 ")
    assert b"evil.example" not in answer
    assert b"location:" not in answer.lower()


def test_the_docs_pages_allow_only_their_own_inline_scripts(service) -> None:
    import base64
    import hashlib
    import re

    with service.client() as c:
        for path in ("/docs", "/docs/oauth2-redirect"):
            r = c.get(path)
            csp = r.headers["content-security-policy"]
            script_src = next(p for p in csp.split(";") if p.strip().startswith("script-src"))
            assert "'unsafe-inline'" not in script_src
            for script in re.findall(rb"<script>(.*?)</script>", r.content, re.DOTALL):
                digest = base64.b64encode(hashlib.sha256(script).digest()).decode()
                assert f"'sha256-{digest}'" in script_src


def test_the_docs_assets_are_the_vendored_files(service) -> None:
    from sealbox.service.routes.docs import ASSETS_FOLDER

    with service.client() as c:
        for name, media in (
            ("swagger-ui-bundle.js", "application/javascript"),
            ("swagger-ui.css", "text/css"),
            ("favicon-32x32.png", "image/png"),
        ):
            r = c.get(f"/docs/assets/{name}")
            assert r.status_code == 200
            assert r.headers["content-type"].startswith(media)
            assert r.content == (ASSETS_FOLDER / name).read_bytes()
        assert c.get("/docs/assets/LICENSE").status_code == 404  # only the listed assets
        assert c.get("/docs/assets/..%2fREADME.md").status_code == 404


def _records(data: bytes) -> list[tuple[int, int]]:
    """(content type, length) of each TLS record in ``data``."""
    found = []
    while len(data) >= 5:
        length = int.from_bytes(data[3:5], "big")
        found.append((data[0], length))
        data = data[5 + length :]
    return found


def test_an_answer_head_and_body_leave_in_one_tls_record(service) -> None:
    ctx = ssl.create_default_context(cafile=str(service.ca))
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with socket.create_connection(("127.0.0.1", service.settings.port), timeout=10) as raw:
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                raw.sendall(outgoing.read())
                incoming.write(raw.recv(65536))
        raw.sendall(outgoing.read())
        raw.settimeout(0.5)  # session tickets follow the handshake: take them first
        try:
            while chunk := raw.recv(65536):
                incoming.write(chunk)
        except TimeoutError:
            pass
        try:
            tls.read()
        except ssl.SSLWantReadError:
            pass
        tls.write(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        raw.sendall(outgoing.read())
        raw.settimeout(10)
        answer = b""
        plaintext = b""
        while b'"status"' not in plaintext:
            chunk = raw.recv(65536)
            assert chunk
            answer += chunk
            incoming.write(chunk)
            try:
                plaintext += tls.read(65536)
            except ssl.SSLWantReadError:
                continue
    assert plaintext.startswith(b"HTTP/1.1 200 ")
    assert _records(answer) == [(23, len(answer) - 5)]  # one application_data record
