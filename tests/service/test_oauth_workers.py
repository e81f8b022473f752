"""Revocation and introspection across ``sealbox serve --workers 2`` on PostgreSQL and Redis:
a token revoked through one worker is refused by both at once."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest

from tests.conftest import run_sealbox
from tests.service._workers import two_workers, workers_env
from tests.service.conftest import PASSWORD, ServeProcess, bearer, login
from tests.service.test_auth_workers import close, on_both_workers

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    env = workers_env()  # skips (or fails under CI) without PostgreSQL and Redis
    with two_workers(tmp_path_factory.mktemp("oauth-workers"), env) as srv:
        yield srv


def _client(srv: ServeProcess, name: str, *scopes: str) -> dict[str, str]:
    args = ["clients", "create", name, "--json", "--data-dir", str(srv.data_dir)]
    for scope in scopes:
        args += ["--scope", scope]
    r = run_sealbox(args, env=workers_env())
    assert r.returncode == 0, r.stderr.decode()
    made = json.loads(r.stdout)
    raw = f"{made['client_id']}:{made['client_secret']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def test_an_access_token_revoked_on_one_worker_is_refused_by_both_at_once(workers) -> None:
    basic = _client(workers, "reporting", "transit:admin")
    with workers.client() as c:
        token = c.post(
            "/auth/token", data={"grant_type": "client_credentials"}, headers=basic
        ).json()["access_token"]
    clients, served = on_both_workers(workers, 4)
    try:
        for c in clients:  # each worker verifies (and caches) the token first
            assert c.get("/v1/keys", headers=bearer(token)).status_code == 200
        revoked = clients[0].post("/auth/revoke", data={"token": token}, headers=basic)
        assert revoked.status_code == 200
        for c in clients:
            assert c.get("/v1/keys", headers=bearer(token)).status_code == 401
            seen = c.post("/auth/introspect", data={"token": token}, headers=basic)
            assert seen.json() == {"active": False}
    finally:
        close(clients)
    assert len(set(served)) == 2


def test_a_refresh_token_revoked_on_one_worker_ends_its_family_on_both(workers) -> None:
    basic = _client(workers, "resource-server", "tokens:revoke", "tokens:introspect")
    r = run_sealbox(
        ["users", "create", "dora", "--data-dir", str(workers.data_dir)],
        input=PASSWORD.encode(),
        env=workers_env(),
    )
    assert r.returncode == 0, r.stderr.decode()
    with workers.client() as c:
        tokens = login(c, "dora").json()
    clients, served = on_both_workers(workers, 4)
    try:
        for c in clients:
            assert c.get("/users/me", headers=bearer(tokens["access_token"])).status_code == 200
        answer = clients[-1].post(
            "/auth/revoke", data={"token": tokens["refresh_token"]}, headers=basic
        )
        assert answer.status_code == 200
        for c in clients:
            assert c.get("/users/me", headers=bearer(tokens["access_token"])).status_code == 401
            for token in (tokens["access_token"], tokens["refresh_token"]):
                seen = c.post("/auth/introspect", data={"token": token}, headers=basic)
                assert seen.json() == {"active": False}
        again = clients[0].post(
            "/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        )
        assert again.status_code == 400
    finally:
        close(clients)
    assert len(set(served)) == 2
