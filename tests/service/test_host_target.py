"""The Host field and the request target (RFC 9112 §3.2, RFC 9110 §7.2), over real TLS.

Raw requests on 127.0.0.1, as a client or a proxy in front could send them: the service
must act on one authority, the one a front proxy read too, and refuse a Host that names
none.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.service._raw import connect, read_all
from tests.service.conftest import Running, make_settings, run_service

METADATA = "/.well-known/oauth-authorization-server"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    data = tmp_path_factory.mktemp("service") / "data"
    with run_service(make_settings(data)) as running:
        yield running


def _exchange(service: Running, data: bytes, answers: int | None = 1) -> bytes:
    with connect(service) as sock:
        sock.sendall(data)
        return read_all(sock, 5.0, answers=answers)


def _refusal(answer: bytes) -> str:
    """The message of the connection layer's JSON 400, the only answer before the close."""
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.lower().split(b"\r\n")
    assert lines[0].startswith(b"http/1.1 400 "), answer
    assert b"content-type: application/json" in lines
    assert b"connection: close" in lines
    assert b"x-content-type-options: nosniff" in lines
    error = json.loads(body)  # one answer, nothing after it
    assert error["error"] == "invalid_request"
    message: str = error["message"]
    return message


def _answer(answer: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head[9:12]), json.loads(body)


def test_an_absolute_target_naming_another_host_is_refused_not_served_by_host(
    service: Running,
) -> None:
    # uvicorn handed the route the target's path, and Starlette built the URL from Host:
    # a proxy routing by the target's authority and sealbox acting on Host's disagreed.
    port = service.settings.port
    answer = _exchange(
        service,
        b"GET https://evil.example%s HTTP/1.1\r\nHost: localhost:%d\r\n\r\n"
        % (METADATA.encode(), port),
    )
    assert "Host" in _refusal(answer)
    assert b"evil.example" not in answer


def test_an_absolute_target_to_users_me_naming_another_host_is_refused(service: Running) -> None:
    answer = _exchange(
        service, b"GET https://evil.example/users/me HTTP/1.1\r\nHost: localhost:8443\r\n\r\n"
    )
    assert "Host" in _refusal(answer)


def test_an_absolute_target_naming_the_host_authority_is_served(service: Running) -> None:
    port = service.settings.port
    answer = _exchange(
        service,
        b"GET https://LOCALHOST:%d%s HTTP/1.1\r\nHost: localhost:%d\r\n\r\n"
        % (port, METADATA.encode(), port),
    )
    status, doc = _answer(answer)
    assert status == 200
    assert doc["token_endpoint"] == f"https://localhost:{port}/auth/token"


INVALID_HOSTS = {
    "empty": b"",
    "a space": b"local host",
    "userinfo": b"user@evil.example",
    "a path": b"evil.example/x",
    "a port of letters": b"localhost:abc",
    "markup": b"<script>alert(1)</script>",
}


@pytest.mark.parametrize("value", INVALID_HOSTS.values(), ids=INVALID_HOSTS.keys())
def test_a_host_that_is_not_a_host_and_port_is_refused_with_400(
    service: Running, value: bytes
) -> None:
    # Each was served before: Starlette quietly built the metadata's URLs from the
    # server's own address instead, while a proxy in front may have read the Host.
    answer = _exchange(service, b"GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (METADATA.encode(), value))
    assert "Host" in _refusal(answer)
    assert b"evil.example" not in answer
    assert b"<script>" not in answer


def test_an_empty_host_in_http10_is_refused(service: Running) -> None:
    assert "Host" in _refusal(_exchange(service, b"GET /health HTTP/1.0\r\nHost:\r\n\r\n"))


def test_a_vault_list_with_an_invalid_host_is_refused_after_its_rewrite(service: Running) -> None:
    answer = _exchange(service, b"LIST /v1/secret/metadata/ HTTP/1.1\r\nHost: a b\r\n\r\n")
    assert "Host" in _refusal(answer)


def test_a_refused_host_after_a_pipelined_request_is_answered_after_it(service: Running) -> None:
    answer = _exchange(
        service,
        b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\nGET /health HTTP/1.1\r\nHost: a@b\r\n\r\n",
        answers=None,  # the refusal's close ends the read
    )
    first, _, second = answer.partition(b'{"status":"ok"}')
    assert first.startswith(b"HTTP/1.1 200 ")
    assert "Host" in _refusal(second)


@pytest.mark.parametrize(
    "host",
    ["localhost:{port}", "[::1]:{port}", "127.0.0.1", "localhost", "LOCALHOST.:{port}"],
)
def test_the_hosts_clients_send_are_served_and_name_the_metadata_urls(
    service: Running, host: str
) -> None:
    value = host.format(port=service.settings.port)
    answer = _exchange(
        service, f"GET {METADATA} HTTP/1.1\r\nHost: {value}\r\nUser-Agent: curl/8\r\n\r\n".encode()
    )
    status, doc = _answer(answer)
    assert status == 200
    assert doc["token_endpoint"] == f"https://{value}/auth/token"


def test_an_http10_request_without_host_is_still_served(service: Running) -> None:
    status, doc = _answer(_exchange(service, b"GET /health HTTP/1.0\r\n\r\n"))
    assert (status, doc) == (200, {"status": "ok"})


def test_an_http_client_is_served(service: Running) -> None:
    with service.client() as client:
        doc = client.get(METADATA).json()
        assert client.get("/health").json() == {"status": "ok"}
    assert doc["token_endpoint"] == f"{service.url}/auth/token"
