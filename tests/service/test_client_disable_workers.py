"""Ending a machine client's tokens across ``sealbox serve --workers 2`` on PostgreSQL and
Redis: disabling it through one worker, or by ``sealbox clients`` beside them, refuses its
live token on both at once; a rotation ending the tokens lets the new secret's pass."""

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
    with two_workers(tmp_path_factory.mktemp("client-disable-workers"), env) as srv:
        yield srv


def _sealbox(srv: ServeProcess, *args: str, stdin: bytes | None = None) -> str:
    r = run_sealbox([*args, "--data-dir", str(srv.data_dir)], env=workers_env(), input=stdin or b"")
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout.decode()


def _basic(made: dict[str, str]) -> dict[str, str]:
    raw = f"{made['client_id']}:{made['client_secret']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def _client(srv: ServeProcess, name: str) -> dict[str, str]:
    made = json.loads(
        _sealbox(srv, "clients", "create", name, "--scope", "transit:admin", "--json")
    )
    return _basic(made)


def _token(srv: ServeProcess, basic: dict[str, str]) -> str:
    with srv.client() as c:
        answer = c.post("/auth/token", data={"grant_type": "client_credentials"}, headers=basic)
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def _each_worker(srv: ServeProcess, token: str, change) -> tuple[list[int], list[int]]:
    """The answers of connections to both workers to ``token``, before and after ``change``."""
    clients, served = on_both_workers(srv, 4)
    try:
        before = [c.get("/v1/keys", headers=bearer(token)).status_code for c in clients]
        change()
        after = [c.get("/v1/keys", headers=bearer(token)).status_code for c in clients]
    finally:
        close(clients)
    assert len(set(served)) == 2
    return before, after


def test_a_client_disabled_through_one_worker_is_refused_by_both_at_once(workers) -> None:
    basic = _client(workers, "disabled-http")
    token = _token(workers, basic)
    _sealbox(
        workers, "users", "create", "root", "--scope", "clients:admin", stdin=PASSWORD.encode()
    )
    with workers.client() as c:
        admin = bearer(login(c, "root").json()["access_token"])

    def disable() -> None:
        with workers.client() as c:
            assert c.post("/clients/disabled-http/disable", headers=admin).status_code == 200

    before, after = _each_worker(workers, token, disable)
    assert before == [200] * 4
    assert after == [401] * 4
    with workers.client() as c:
        refused = c.post("/auth/token", data={"grant_type": "client_credentials"}, headers=basic)
    assert refused.status_code == 401


def test_a_client_disabled_by_the_command_line_is_refused_by_both_workers_at_once(
    workers,
) -> None:
    basic = _client(workers, "disabled-cli")
    token = _token(workers, basic)
    before, after = _each_worker(
        workers, token, lambda: _sealbox(workers, "clients", "disable", "disabled-cli")
    )
    assert before == [200] * 4
    assert after == [401] * 4
    _sealbox(workers, "clients", "enable", "disabled-cli")
    fresh = _token(workers, basic)
    before, _ = _each_worker(workers, fresh, lambda: None)
    assert before == [200] * 4


def test_revoke_tokens_ends_the_old_token_on_both_workers_and_the_new_secret_works(
    workers,
) -> None:
    basic = _client(workers, "rotated-cli")
    token = _token(workers, basic)
    rotated: list[dict[str, str]] = []

    def rotate() -> None:
        out = _sealbox(
            workers, "clients", "rotate-secret", "rotated-cli", "--revoke-tokens", "--json"
        )
        rotated.append(json.loads(out))

    before, after = _each_worker(workers, token, rotate)
    assert before == [200] * 4
    assert after == [401] * 4
    fresh = _token(workers, _basic(rotated[0]))
    before, _ = _each_worker(workers, fresh, lambda: None)
    assert before == [200] * 4
