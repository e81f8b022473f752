"""The attack run's races against ``sealbox serve --workers 2`` on PostgreSQL and Redis.

Real worker processes, as an operator runs them. Each test opens connections until
both workers serve some of them (checked in the kernel's tables, see ``_workers.py``),
then releases its attempts together on a barrier.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from sealbox.jwt import TokenVerifier
from sealbox.service.provision import DataDir
from tests.conftest import run_sealbox
from tests.service._workers import (
    attempts,
    clear_throttle_counters,
    client_port,
    serving_worker,
    together,
    two_workers,
    worker_pids,
    workers_env,
)
from tests.service.conftest import (
    PASSWORD,
    ServeProcess,
    bearer,
    login,
    serve_process,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    env = workers_env()  # skips (or fails under CI) without PostgreSQL and Redis
    with two_workers(tmp_path_factory.mktemp("workers"), env) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _fresh_counters() -> None:
    clear_throttle_counters()


def on_both_workers(srv: ServeProcess, n: int) -> tuple[list[httpx2.Client], list[int]]:
    """``n`` connected clients, some served by each of the two workers, and their workers."""
    pids = worker_pids(srv.proc.pid, srv.port)
    assert len(pids) == 2, pids
    clients: list[httpx2.Client] = []
    served: list[int] = []
    for _ in attempts():
        if len(clients) == n and len(set(served)) == 2:
            return clients, served
        c = srv.client()
        r = c.get("/health")
        assert r.status_code == 200
        pid = serving_worker(pids, srv.port, client_port(r))
        assert pid is not None
        if len(clients) < n:
            clients.append(c)
            served.append(pid)
        elif pid not in served:
            # Every client so far is on the other worker: give one slot to this one.
            clients[0].close()
            clients[0], served[0] = c, pid
        else:
            c.close()
    close(clients)
    raise AssertionError(f"the kernel gave every connection to one worker: {served}")


def close(clients: list[httpx2.Client]) -> None:
    for c in clients:
        c.close()


def _user(srv: ServeProcess, name: str, *scopes: str) -> None:
    args = ["users", "create", name, "--data-dir", str(srv.data_dir)]
    for scope in scopes:
        args += ["--scope", scope]
    r = run_sealbox(args, input=PASSWORD.encode(), env=workers_env())
    assert r.returncode == 0, r.stderr.decode()


def test_concurrent_wrong_logins_are_checked_at_most_the_username_limit(workers) -> None:
    _user(workers, "target")
    clients, _ = on_both_workers(workers, 15)
    try:
        answers = together(clients, lambda _i, c: login(c, "target", "wrong guess"))
    finally:
        close(clients)
    codes = [r.status_code for r in answers]
    assert codes.count(400) <= 5, codes
    assert codes.count(400) + codes.count(429) == 15, codes
    with workers.client() as c:
        assert login(c, "target").status_code == 429


def test_concurrent_logins_from_one_address_are_checked_at_most_the_address_limit(
    workers,
) -> None:
    clients, _ = on_both_workers(workers, 40)
    try:
        answers = together(clients, lambda i, c: login(c, f"nobody{i}", "wrong guess"))
    finally:
        close(clients)
    codes = [r.status_code for r in answers]
    assert codes.count(400) <= 20, codes
    assert codes.count(400) + codes.count(429) == 40, codes


def test_concurrent_wrong_current_passwords_are_checked_at_most_the_limit(workers) -> None:
    _user(workers, "victim")
    with workers.client() as c:
        token = login(c, "victim").json()["access_token"]
    body = {"current_password": "not it at all", "new_password": "a new password"}
    clients, _ = on_both_workers(workers, 12)
    try:
        answers = together(
            clients, lambda _i, c: c.post("/auth/password", json=body, headers=bearer(token))
        )
    finally:
        close(clients)
    codes = [r.status_code for r in answers]
    assert codes.count(403) <= 5, codes
    assert codes.count(403) + codes.count(429) == 12, codes


def _claims(srv: ServeProcess, token: str) -> dict[str, Any]:
    keyset = DataDir(srv.data_dir).load_keyset()
    return TokenVerifier(keyset, audience="sealbox", issuer="sealbox").verify(token)


def test_refreshes_on_either_worker_never_widen_the_granted_scope(workers) -> None:
    _user(workers, "ops", "transit:admin")
    with workers.client() as c:
        r = c.post(
            "/auth/token", data={"username": "ops", "password": PASSWORD, "scope": "users:me"}
        )
        assert r.status_code == 200 and r.json()["scope"] == "users:me"
        refresh = r.json()["refresh_token"]
    clients, _ = on_both_workers(workers, 4)
    try:
        for c in clients:  # one refresh after the other, on both workers
            r = c.post("/auth/refresh", json={"refresh_token": refresh})
            assert r.status_code == 200, r.text
            assert r.json()["scope"] == "users:me"
            assert _claims(workers, r.json()["access_token"])["scope"] == "users:me"
            refresh = r.json()["refresh_token"]
        wider = clients[-1].post(
            "/auth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh,
                "scope": "transit:admin",
            },
        )
        assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"
    finally:
        close(clients)


def test_reuse_detection_refuses_the_familys_access_tokens_on_both_workers(workers) -> None:
    _user(workers, "erin")
    with workers.client() as c:
        first = login(c, "erin").json()
        second = c.post("/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
        assert c.get("/users/me", headers=bearer(second["access_token"])).status_code == 200
        # A thief replays the first refresh token.
        assert (
            c.post("/auth/refresh", json={"refresh_token": first["refresh_token"]}).status_code
            == 400
        )
    clients, served = on_both_workers(workers, 6)
    try:
        for c in clients:
            for token in (first["access_token"], second["access_token"]):
                r = c.get("/users/me", headers=bearer(token))
                assert r.status_code == 401, r.text
                assert r.json()["message"] == "the access token was revoked"
    finally:
        close(clients)
    assert len(set(served)) == 2


def test_strict_mode_gives_exactly_one_winner_between_worker_processes(workers) -> None:
    _user(workers, "racer")
    with workers.client() as c:
        refresh = login(c, "racer").json()["refresh_token"]
    clients, _ = on_both_workers(workers, 8)
    try:
        answers = together(
            clients, lambda _i, c: c.post("/auth/refresh", json={"refresh_token": refresh})
        )
    finally:
        close(clients)
    codes = [r.status_code for r in answers]
    assert codes.count(200) == 1, codes
    assert codes.count(400) == 7, codes


def test_within_the_grace_every_worker_answers_a_retry_with_a_fresh_pair(
    tmp_path: Path, workers
) -> None:
    # Its own server (the grace is a setting), sharing the database and Redis.
    env = workers_env(SEALBOX_REFRESH_REUSE_GRACE="30")
    with serve_process(tmp_path, "--workers", "2", env=env, data_dir=workers.data_dir) as srv:
        _user(srv, "retry")
        with srv.client() as c:
            refresh = login(c, "retry").json()["refresh_token"]
        clients, _ = on_both_workers(srv, 6)
        try:
            answers = together(
                clients, lambda _i, c: c.post("/auth/refresh", json={"refresh_token": refresh})
            )
            assert [r.status_code for r in answers] == [200] * 6, [r.text for r in answers]
            pairs = [r.json() for r in answers]
            assert len({p["refresh_token"] for p in pairs}) == 6
            for c, p in zip(clients, pairs, strict=True):
                assert c.get("/users/me", headers=bearer(p["access_token"])).status_code == 200
        finally:
            close(clients)
    assert "Traceback" not in srv.stderr, srv.stderr[-2000:]
