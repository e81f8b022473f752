"""``GET /users/me`` through the lean entry answers byte for byte as the FastAPI route does.

One running service (client certificates optional), the entry switched on and off
between requests: same tokens, same state, same TLS connection layer.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from sealbox.service.app import ServiceApp, create_app
from sealbox.service.routes.users_fast import UsersMeFastPath
from tests.service._oauth import AuthServer, auth_server
from tests.service.conftest import bearer, login, make_settings, register

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


@pytest.fixture
def authz(tmp_path: Path, backend: dict[str, Any]) -> Iterator[AuthServer]:
    with auth_server(tmp_path, **backend) as server:
        yield server


def _app(authz: AuthServer) -> ServiceApp:
    app = authz.svc.server.config.app
    assert isinstance(app, ServiceApp)
    return app


def _answer(response: httpx2.Response) -> Answer:
    # The date moves between the two answers; everything else must not.
    headers = [(k.lower(), v) for k, v in response.headers.raw if k.lower() != b"date"]
    return response.status_code, headers, response.content


def _both(authz: AuthServer, ask: Callable[[httpx2.Client], httpx2.Response], **kw: Any) -> Answer:
    """The answer with the lean entry, after checking the FastAPI route gives the same."""
    app = _app(authz)
    lean = app.users_me
    assert lean is not None
    answers = []
    try:
        for entry in (lean, None):
            app.users_me = entry
            with authz.client(**kw) as c:
                answers.append(_answer(ask(c)))
    finally:
        app.users_me = lean
    assert answers[0] == answers[1]
    return answers[0]


def _me(token: str | None = None, **headers: str) -> Callable[[httpx2.Client], httpx2.Response]:
    if token is not None:
        headers.update(bearer(token))
    return lambda c: c.get("/users/me", headers=headers)


def _tokens(authz: AuthServer, name: str = "alice", **kw: Any) -> dict[str, Any]:
    with authz.client(**kw) as c:
        register(c, name)
        answer = login(c, name)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _header(answer: Answer, name: bytes) -> bytes:
    return dict(answer[1])[name]


def test_a_users_token_gets_the_same_answer_and_security_headers(authz) -> None:
    token = _tokens(authz)["access_token"]
    status, headers, body = _both(authz, _me(token))
    assert status == 200
    assert body.startswith(b'{"id":') and b'"username":"alice"' in body
    assert b'"client_certificate":null' in body
    names = [k for k, _ in headers]
    assert names[:2] == [b"content-length", b"content-type"]
    for name in (b"strict-transport-security", b"content-security-policy", b"cache-control"):
        assert name in names


def test_a_missing_or_foreign_authorization_is_401_with_the_bearer_challenge(authz) -> None:
    for ask in (_me(), _me(Authorization="Basic YTpi"), _me(Authorization="Bearer")):
        answer = _both(authz, ask)
        assert answer[0] == 401
        assert b'"not_authenticated"' in answer[2]
        assert _header(answer, b"www-authenticate") == b"Bearer"


def test_two_authorization_headers_are_400_invalid_request_whichever_comes_first(authz) -> None:
    token = _tokens(authz)["access_token"]
    for pair in ((f"Bearer {token}", "Basic YTpi"), ("Bearer not.a.token", f"Bearer {token}")):
        answer = _both(
            authz, lambda c, p=pair: c.get("/users/me", headers=[("Authorization", v) for v in p])
        )
        assert answer[0] == 400
        assert b'"invalid_request"' in answer[2]
        assert _header(answer, b"www-authenticate") == b'Bearer error="invalid_request"'


def test_a_bad_token_is_401_invalid_token(authz) -> None:
    answer = _both(authz, _me("not.a.token"))
    assert answer[0] == 401
    assert _header(answer, b"www-authenticate") == b'Bearer error="invalid_token"'


def test_a_revoked_token_is_401_saying_so(authz) -> None:
    tokens = _tokens(authz)
    with authz.client() as c:
        out = c.post(
            "/auth/logout",
            json={"refresh_token": tokens["refresh_token"]},
            headers=bearer(tokens["access_token"]),
        )
    assert out.status_code == 204
    answer = _both(authz, _me(tokens["access_token"]))
    assert answer[0] == 401
    assert b"revoked" in answer[2]


def test_a_machine_clients_token_is_403_user_token_required(authz) -> None:
    client = authz.register("reporting", "users:me")
    token = authz.client_token(client).json()["access_token"]
    answer = _both(authz, _me(token))
    assert answer[0] == 403
    assert b'"user_token_required"' in answer[2]


def test_over_mutual_tls_the_client_certificate_is_shown(authz) -> None:
    token = _tokens(authz)["access_token"]
    status, _, body = _both(authz, _me(token), cert=authz.cert_a)
    assert status == 200
    assert b'"common_name":"reporter-a"' in body


def test_a_bound_token_answers_only_over_its_certificate(authz) -> None:
    token = _tokens(authz, cert=authz.cert_a)["access_token"]
    assert _both(authz, _me(token), cert=authz.cert_a)[0] == 200
    for cert, said in (
        (authz.cert_b, b"bound to another client certificate"),
        (None, b"bound to a client certificate, and none was presented"),
    ):
        answer = _both(authz, _me(token), cert=cert)
        assert answer[0] == 401
        assert said in answer[2]


def test_requests_the_entry_does_not_take_get_the_routes_answers(authz) -> None:
    token = _tokens(authz)["access_token"]
    asks = [
        lambda c: c.post("/users/me", headers=bearer(token)),
        lambda c: c.get("/users/me/", headers=bearer(token)),
        # HEAD is asked again as GET (ServiceApp): the entry's answer, without its body.
        lambda c: c.head("/users/me", headers=bearer(token)),
        lambda c: c.request("GET", "/users/me", headers=bearer(token), content=b"x"),
    ]
    statuses = [_both(authz, ask)[0] for ask in asks]
    assert statuses == [405, 404, 200, 200]


def test_the_entry_answers_without_reaching_the_application(authz) -> None:
    token = _tokens(authz)["access_token"]
    app, taken = _app(authz), []
    lean = app.users_me

    class Counting(UsersMeFastPath):
        __slots__ = ()

        def reply_now(self, *args: Any) -> Any:
            taken.append(1)
            return super().reply_now(*args)

    app.users_me = Counting()
    try:
        with authz.client() as c:
            assert c.get("/users/me", headers=bearer(token)).status_code == 200
            assert c.get("/users/me", headers={"Content-Length": "0"}).status_code == 401
    finally:
        app.users_me = lean
    assert taken == [1]


def test_an_unexpected_error_is_the_same_500_and_logs_no_message(authz, caplog) -> None:
    token = _tokens(authz)["access_token"]
    revocations = _app(authz).state.runtime.accounts.revocations

    def broken_now(*_args: Any, **_kw: Any) -> bool:
        raise RuntimeError("canary-internal-detail")

    async def broken(*_args: Any, **_kw: Any) -> bool:
        return broken_now()

    # The revocation check breaks, however it is asked (the in-memory lists answer
    # without a coroutine).
    asked_now = hasattr(revocations, "refused_now")
    revocations.is_refused = broken
    if asked_now:
        revocations.refused_now = broken_now
    try:
        with caplog.at_level(logging.ERROR, logger="sealbox.service"):
            answer = _both(authz, _me(token))
    finally:
        del revocations.is_refused
        if asked_now:
            del revocations.refused_now
    assert answer[0] == 500
    assert answer[2] == b'{"error":"internal_error","message":"internal error"}'
    assert b"strict-transport-security" in dict(answer[1])
    lines = [r.getMessage() for r in caplog.records if r.name == "sealbox.service"]
    assert lines == ["unhandled RuntimeError on GET /users/me"] * 2
    assert "canary-internal-detail" not in caplog.text


def test_one_token_over_connections_with_and_without_a_certificate_shows_each(authz) -> None:
    # The entry keeps each token's body: it must follow the connection's certificate.
    token = _tokens(authz)["access_token"]
    bodies = [_both(authz, _me(token), cert=cert)[2] for cert in (None, authz.cert_a, None)]
    assert b'"client_certificate":null' in bodies[0]
    assert b'"common_name":"reporter-a"' in bodies[1]
    assert bodies[2] == bodies[0]


def test_the_openapi_document_is_the_same_with_the_entry_on_and_off(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    on, off = (create_app(settings, users_fast_path=fast).openapi() for fast in (True, False))
    assert json.dumps(on) == json.dumps(off)
    assert "/users/me" in on["paths"]
