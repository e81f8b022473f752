"""No secret a client sends reaches a log line or an answer, wherever it travels.

A real ``sealbox serve`` at ``--log-level debug`` is sent a unique canary in every place a
secret can travel (query strings, credential headers, a forwarded address from a peer that
is no trusted proxy, bodies refused for their length, type, encoding or shape, on every
route that takes a password, token, code, plaintext or KV value), and a canary as the
password of its database and Redis URLs while both stop answering; its stderr, access log
(stdout), audit log and every answer body and header are then searched for each canary.
The routes of :mod:`sealbox.integrations.fastapi` in an app of one's own are searched the
same way, under each arrangement of exception handlers an app may have.
"""

# No `from __future__ import annotations`: own_app's routes are closures FastAPI reads.

import base64
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests._tcp_proxy import proxy_to
from tests.conftest import require_tool
from tests.service._own_app import served_over_tls
from tests.service._transit import ALL_SCOPES, add_user
from tests.service.conftest import (
    PASSWORD,
    bearer,
    free_port,
    login,
    make_settings,
    private_shared_state,
    serve_process,
)
from tests.service.test_fastapi_own_handlers import own_app

CANARY = "canaryEverywhere3f9d"
SCOPES = ["users:admin", "clients:admin", "kv:admin", *ALL_SCOPES]


def _bodies(canary: str) -> dict[str, bytes]:
    """Bodies a route refuses, each holding ``canary`` in every member a secret goes in."""
    c = canary.encode()
    members = (
        b"password",
        b"current_password",
        b"new_password",
        b"refresh_token",
        b"token",
        b"code",
        b"plaintext",
        b"input",
    )

    def each(value: bytes) -> bytes:
        return b"{" + b",".join(b'"%s":%s' % (m, value) for m in members) + b"}"

    return {
        "too long": each(b'"' + c * 400 + b'"'),
        "a list": each(b'["' + c + b'"]'),
        "an object": each(b'{"a":"' + c + b'"}'),
        "a lone surrogate": each(b'"' + c + b'\\ud800"'),
        "not JSON": b'{"password":"' + c,
        "duplicate keys": b'{"password":"' + c + b'","password":"' + c + b'"}',
        "not UTF-8": b'{"password":"' + c + b'\xff"}',
        "a JSON string": b'"' + c + b'"',
        "KV data that is no object": b'{"data":"' + c + b'","options":{"cas":"' + c + b'"}}',
        "transit batch": b'{"batch_input":[{"plaintext":"' + c + b'!","context":"' + c + b'"}]}',
    }


def _assert_nowhere(canary: str, answers: list[httpx2.Response], *logs: str) -> None:
    for answer in answers:
        shown = answer.text + "".join(f"{k}: {v}\n" for k, v in answer.headers.items())
        assert canary not in shown, (answer.request.method, answer.request.url.path, shown)
    for log in logs:
        assert canary not in log, [line for line in log.splitlines() if canary in line]


def test_a_canary_sent_in_any_place_reaches_no_log_line_and_no_answer(tmp_path: Path) -> None:
    data = tmp_path / "data"
    answers: list[httpx2.Response] = []
    with (
        serve_process(
            tmp_path,
            "--log-level",
            "debug",
            env={"SEALBOX_PASSWORD_PROFILE": "test", "SEALBOX_OPEN_REGISTRATION": "true"},
            data_dir=data,
            capture_stdout=True,
        ) as srv,
    ):
        add_user(make_settings(data), "ops", SCOPES)
        with srv.client() as c:
            token = login(c, "ops").json()["access_token"]
            user, vault = bearer(token), {"X-Vault-Token": token}
            assert c.post("/v1/keys/k", json={}, headers=user).status_code == 201
            basic = base64.b64encode(f"reporting:{CANARY}".encode()).decode()
            send = [
                ("GET", f"/users/me?access_token={CANARY}", {}),
                ("POST", f"/auth/token?password={CANARY}&client_secret={CANARY}", {}),
                ("GET", f"/v1/secret/data/x?token={CANARY}", {}),
                ("GET", f"/health?{CANARY}", {}),
                ("GET", "/users/me", {"Authorization": f"Bearer {CANARY}"}),
                ("GET", "/users/me", {"Authorization": CANARY}),
                ("GET", "/users/me", {"Cookie": f"session={CANARY}"}),
                ("GET", "/v1/secret/data/x", {"X-Vault-Token": CANARY}),
                ("GET", "/v1/auth/token/lookup-self", {"X-Vault-Token": CANARY}),
                ("POST", "/auth/introspect", {"Authorization": f"Basic {basic}"}),
                ("POST", "/auth/token", {"Authorization": f"Basic {CANARY}"}),
            ]
            for method, path, headers in send:
                answers.append(c.request(method, path, headers=headers))
            answers.append(
                c.post(
                    "/auth/token",
                    data={"username": "ops", "password": CANARY},
                    headers={"X-Forwarded-For": CANARY, "Forwarded": f"for={CANARY}"},
                )
            )
            json_routes = [
                ("/auth/register", {}),
                ("/auth/password", user),
                ("/auth/refresh", {}),
                ("/auth/logout", user),
                ("/auth/totp", user),
                ("/auth/totp/confirm", user),
                ("/auth/totp/disable", user),
                ("/users/import", user),
                ("/users/ops/password", user),
                ("/clients", user),
                ("/v1/keys/k/encrypt", user),
                ("/v1/keys/k/hmac", user),
                ("/v1/transit/encrypt/k", vault),
                ("/v1/transit/keys/k2", vault),
                ("/v1/secret/data/x", vault),
                ("/v1/auth/token/lookup", vault),
            ]
            for path, headers in json_routes:
                for body in _bodies(CANARY).values():
                    json_headers = {**headers, "Content-Type": "application/json"}
                    answers.append(c.post(path, content=body, headers=json_headers))
            for path in ("/auth/token", "/auth/revoke", "/auth/introspect"):
                for form in (
                    f"grant_type=password&username=ops&password={CANARY * 300}",
                    f"grant_type=password&username=ops&password={CANARY}&password={CANARY}",
                    f"grant_type=refresh_token&refresh_token={CANARY}%ff%fe",
                    f"grant_type=password&username=ops&password={PASSWORD}&otp={CANARY}",
                    f"token={CANARY}&token={CANARY}&client_secret={CANARY}",
                ):
                    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
                    answers.append(c.post(path, content=form.encode(), headers=form_type))
                answers.append(c.post(path, json={"password": CANARY, "token": CANARY}))
    assert any(a.status_code == 422 for a in answers)  # the bodies were read, and refused
    _assert_nowhere(CANARY, answers, srv.stderr, srv.stdout, (data / "audit.log").read_text())


@pytest.mark.parametrize(
    ("sealbox_handlers", "own_handlers"),
    [(False, False), (False, True), (True, True), (True, False)],
    ids=["fastapi-handlers", "app-handlers", "app-and-sealbox-handlers", "sealbox-handlers"],
)
def test_the_auth_routes_in_an_own_app_echo_no_refused_body(
    tmp_path: Path, sealbox_handlers: bool, own_handlers: bool
) -> None:
    # Refused for their type, encoding or shape, not their length: FastAPI's own 422 (and
    # an app's handler repeating exc.errors()) would show each back as the error's "input".
    app = own_app(tmp_path / "app.db", sealbox_handlers=sealbox_handlers, own_handlers=own_handlers)
    answers = []
    with served_over_tls(app, tmp_path) as c:
        good = "a-good-password-1"
        assert c.post("/auth/register", json={"username": "al", "password": good}).is_success
        token = c.post("/auth/token", data={"username": "al", "password": good}).json()
        headers = {**bearer(token["access_token"]), "Content-Type": "application/json"}
        for path in ("/auth/register", "/auth/refresh", "/auth/logout", "/auth/password"):
            for body in _bodies(CANARY).values():
                answers.append(c.post(path, content=body, headers=headers))
    assert sum(a.status_code in (400, 422) for a in answers) == len(answers)
    _assert_nowhere(CANARY, answers)


@contextmanager
def _redis_with_password(folder: Path, password: str) -> Iterator[int]:
    """A Redis server of this test's own that asks for ``password`` (in its configuration
    file, not its argv); its port."""
    import redis

    port = free_port()
    config = folder / "redis.conf"
    config.write_text(
        f'port {port}\nbind 127.0.0.1\nrequirepass {password}\nsave ""\nappendonly no\n'
    )
    config.chmod(0o600)
    server = subprocess.Popen(
        [require_tool("redis-server"), str(config)], stdout=subprocess.DEVNULL
    )
    client = redis.Redis(host="127.0.0.1", port=port, password=password)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "the test's Redis did not start"
                time.sleep(0.1)
        yield port
    finally:
        client.close()
        server.terminate()
        server.wait(10)


@pytest.mark.postgres
@pytest.mark.redis
def test_store_passwords_reach_no_log_line_or_answer_while_the_stores_are_gone(
    tmp_path: Path,
) -> None:
    db_password, redis_password = "canaryDatabasePw71a", "canaryRedisPw0c4e"
    answers: list[httpx2.Response] = []
    with (
        private_shared_state("canaries") as shared,
        _redis_with_password(tmp_path, redis_password) as redis_port,
        proxy_to("127.0.0.1", 5432) as postgres,
        proxy_to("127.0.0.1", redis_port) as redis,
    ):
        # Trust authentication here: the password is sent nowhere, but is in every URL.
        database_url = str(shared["database_url"]).replace(
            "postgres@127.0.0.1:5432", f"postgres:{db_password}@127.0.0.1:{postgres.port}"
        )
        env: dict[str, Any] = {
            "SEALBOX_PASSWORD_PROFILE": "test",
            "SEALBOX_DATABASE_URL": database_url,
            "SEALBOX_REDIS_URL": f"redis://:{redis_password}@127.0.0.1:{redis.port}/0",
            "SEALBOX_REDIS_PREFIX": str(shared["redis_prefix"]),
        }
        data = tmp_path / "data"
        with serve_process(
            tmp_path, "--log-level", "debug", env=env, data_dir=data, capture_stdout=True
        ) as srv:
            add_user(make_settings(data, database_url=database_url), "ops", SCOPES)
            with srv.client() as c:
                token = login(c, "ops").json()["access_token"]
                for gone in ((redis,), (postgres,), (redis, postgres)):
                    for proxy in gone:
                        proxy.cut()
                    try:
                        for method, path, kw in (
                            ("GET", "/users/me", {"headers": bearer(token)}),
                            ("GET", "/clients", {"headers": bearer(token)}),
                            ("GET", "/v1/secret/data/x", {"headers": {"X-Vault-Token": token}}),
                            ("POST", "/auth/token", {"data": {"username": "ops", "password": "x"}}),
                        ):
                            answers.append(c.request(method, path, **kw))
                    finally:
                        for proxy in gone:
                            proxy.restore()
    assert sum(a.status_code == 503 for a in answers) >= 9, [a.text for a in answers]
    assert "answered 503 store_unavailable" in srv.stderr  # the lines searched were written
    logs = (srv.stderr, srv.stdout, (data / "audit.log").read_text())
    _assert_nowhere(db_password, answers, *logs)
    _assert_nowhere(redis_password, answers, *logs)
