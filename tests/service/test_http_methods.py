"""Methods at the service's edge: HEAD answered as GET without the body, the methods the
server does not know, and the ``Allow`` header of a 405."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.types import Message

from sealbox.service.app import create_app
from tests.service._raw import connect, read_all
from tests.service._transit import add_user
from tests.service.conftest import Running, bearer, login, make_settings, run_service

Answer = tuple[bytes, list[tuple[bytes, bytes]], bytes]

SCOPES = ["users:admin", "transit:admin", "kv:admin"]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One service for the module (what HEAD answers does not depend on the database)."""
    data = tmp_path_factory.mktemp("methods") / "data"
    with run_service(make_settings(data)) as running:
        yield running


@pytest.fixture(scope="module")
def token(service: Running) -> str:
    add_user(service.settings, "head-admin", SCOPES)
    with service.client() as c:
        access = str(login(c, "head-admin").json()["access_token"])
        created = c.post("/v1/keys/head-key", json={}, headers=bearer(access))
        assert created.status_code in (200, 201, 204), created.text
        written = c.post(
            "/v1/secret/data/head-secret",
            json={"data": {"k": "v"}},
            headers={"X-Vault-Token": access},
        )
        assert written.status_code == 200, written.text
    return access


def _head_of(raw: bytes) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    status_line, *lines = raw.split(b"\r\n")
    fields = [line.partition(b": ") for line in lines]
    # The date moves between two answers, and the last one closes the connection;
    # everything else must not differ.
    moving = (b"date", b"connection")
    return status_line, [(k.lower(), v) for k, _, v in fields if k.lower() not in moving]


def _head_then_get(service: Running, path: str, headers: bytes) -> tuple[Answer, Answer]:
    """The answers to ``HEAD path`` then ``GET path``, pipelined on one connection.

    The answer to HEAD must end with its head: whatever it sent after would be read as
    the start of the second answer.
    """
    ask = b" " + path.encode() + b" HTTP/1.1\r\nHost: localhost\r\n" + headers
    with connect(service) as sock:
        sock.sendall(b"HEAD" + ask + b"\r\nGET" + ask + b"Connection: close\r\n\r\n")
        received = read_all(sock, 10.0, answers=None)  # HEAD's answer: the close ends it
    first, _, rest = received.partition(b"\r\n\r\n")
    assert rest.startswith(b"HTTP/1.1 "), f"the answer to HEAD went on: {rest[:80]!r}"
    second, _, body = rest.partition(b"\r\n\r\n")
    return (*_head_of(first), b""), (*_head_of(second), body)


@pytest.mark.parametrize(
    ("path", "auth"),
    [
        ("/health", None),
        ("/.well-known/jwks.json", None),
        ("/.well-known/oauth-authorization-server", None),
        ("/openapi.json", None),
        ("/docs", None),
        ("/docs/oauth2-redirect", None),
        ("/users/me", "bearer"),  # the lean entry
        ("/users/me", None),  # its 401, with WWW-Authenticate
        ("/users", "bearer"),
        ("/users/head-admin", "bearer"),
        ("/v1/keys", "bearer"),
        ("/v1/keys/head-key", "bearer"),
        ("/nope", None),  # a 404 answers HEAD as it answers GET
        ("/v1/sys/health", None),
        # Vault's other paths answer HEAD as Vault does, never as their GET (405 once the
        # token is read): tests/service/test_vault_precedence.py.
    ],
)
def test_head_answers_as_get_with_its_headers_and_no_body(
    service: Running, token: str, path: str, auth: str | None
) -> None:
    headers = {
        None: b"",
        "bearer": b"Authorization: Bearer " + token.encode() + b"\r\n",
        "vault": b"X-Vault-Token: " + token.encode() + b"\r\n",
    }[auth]
    head, get = _head_then_get(service, path, headers)
    assert head[0] != b"HTTP/1.1 405 Method Not Allowed"
    assert head[:2] == get[:2]  # the status line and every header, Content-Length too
    assert dict(head[1])[b"content-length"] == str(len(get[2])).encode()
    assert head[2] == b""


def test_head_of_a_vault_secret_is_405_and_ends_with_its_head(service: Running, token: str) -> None:
    # Vault's header operation, which its KV engine does not take; its read is still there.
    vault = b"X-Vault-Token: " + token.encode() + b"\r\n"
    head, get = _head_then_get(service, "/v1/secret/data/head-secret", vault)
    assert (head[0], head[2]) == (b"HTTP/1.1 405 Method Not Allowed", b"")
    assert get[0] == b"HTTP/1.1 200 OK"


def test_head_where_get_is_not_allowed_is_405_naming_the_methods(service: Running) -> None:
    head, post = _head_then_get(service, "/auth/token", b"")
    assert head[0] == b"HTTP/1.1 405 Method Not Allowed"
    assert dict(head[1])[b"allow"] == b"POST"
    assert head[:2] == post[:2]


def test_a_405_of_a_path_that_answers_get_lists_head_too(service: Running) -> None:
    with service.client() as c:
        answer = c.post("/health")
    assert answer.status_code == 405
    assert answer.json()["error"] == "method_not_allowed"
    assert answer.headers["allow"] == "GET, HEAD"


def _in_process(method: str, path: str) -> list[Message]:
    """What the app sends for ``method path``, called in-process (no server to drop a body)."""
    app = create_app(make_settings(Path("/nonexistent")))
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"localhost")],
        "server": ("127.0.0.1", 443),
        "client": ("127.0.0.1", 50000),
    }
    asyncio.run(app(scope, receive, send))
    return sent


def test_the_app_itself_sends_no_body_for_head() -> None:
    # Not left to the server: another ASGI server, or a test calling the app, gets none.
    get, head = _in_process("GET", "/health"), _in_process("HEAD", "/health")
    assert head[0] == get[0]
    assert [m["type"] for m in head] == ["http.response.start", "http.response.body"]
    assert get[1]["body"] == b'{"status":"ok"}'
    assert head[1]["body"] == b""
    assert not head[1].get("more_body", False)


def test_an_unknown_method_is_refused_by_the_http_parser_before_the_app(
    service: Running,
) -> None:
    # uvicorn's httptools parser knows a fixed list of methods (those of the RFCs and
    # WebDAV's): another is refused as it arrives, with its text/plain 400, and the
    # connection closed (docs/service.md, "Behind the scenes"). A method it knows reaches
    # the routes and gets their JSON 405.
    with connect(service) as sock:
        sock.sendall(b"FOO /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        refused = read_all(sock, 5.0)
    assert refused.startswith(b"HTTP/1.1 400 ")
    assert b"content-type: text/plain" in refused.lower()
    assert b"connection: close" in refused.lower()
    with connect(service) as sock:
        sock.sendall(b"PROPFIND /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        known = read_all(sock, 5.0)
    status, fields = _head_of(known.partition(b"\r\n\r\n")[0])
    assert status == b"HTTP/1.1 405 Method Not Allowed"
    assert dict(fields)[b"content-type"] == b"application/json"
    assert dict(fields)[b"allow"] == b"GET, HEAD"
    assert known.endswith(b'{"error":"method_not_allowed","message":"Method Not Allowed"}')
