"""Two ``sealbox serve`` processes on one PostgreSQL database and one Redis, as two hosts
run them: a rolling restart, a Redis one of them loses, database connections killed.

Process B reaches Redis through a forwarder the test cuts (``tests/_tcp_proxy.py``);
process A, started by each test, reaches it directly. The database and the Redis key
prefix are this module's own, so runs beside this one never see its state.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from sealbox.service.admin import create_user
from sealbox.service.settings import ServiceSettings
from tests._tcp_proxy import Proxy, proxy_to
from tests.service.conftest import (
    PASSWORD,
    POSTGRES_ADMIN_URL,
    ServeProcess,
    bearer,
    login,
    make_settings,
    private_shared_state,
    serve_process,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@dataclass
class Deployment:
    data: Path
    work: Path
    env: dict[str, str]  # A's: Redis reached directly
    settings: ServiceSettings  # A's, for the accounts made in this process
    database: str
    proxy: Proxy
    b: ServeProcess  # serves for the whole module, Redis through ``proxy``

    def user(self, name: str, *scopes: str) -> None:
        create_user(self.settings, name, lambda _name: PASSWORD, scopes)

    def audit(self) -> str:
        return (self.data / "audit.log").read_text()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with (
        private_shared_state("two_processes") as shared,
        proxy_to("127.0.0.1", 6379) as proxy,
    ):
        env = {f"SEALBOX_{k.upper()}": v for k, v in shared.items()}
        env["SEALBOX_PASSWORD_PROFILE"] = "test"
        b_env = {**env, "SEALBOX_REDIS_URL": f"redis://127.0.0.1:{proxy.port}/15"}
        work = tmp_path_factory.mktemp("two-processes")
        data = work / "data"
        database = str(shared["database_url"]).rsplit("/", 1)[1]
        with serve_process(work, env=b_env, data_dir=data) as b:
            settings = make_settings(data, **shared)
            yield Deployment(data, work, env, settings, database, proxy, b)
        assert "Traceback" not in b.stderr, b.stderr[-2000:]


def _refused_for_redis(answer: httpx2.Response) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"] == "store_unavailable"
    assert answer.headers["retry-after"] == "5"


def test_a_reuse_detected_while_redis_is_gone_refuses_the_family_everywhere_once_it_answers(
    deployment: Deployment,
) -> None:
    # The replay revokes the family in the database before Redis is asked to refuse its
    # access tokens; a second replay only finds a revoked token. Lost with the 503, the
    # refusal left the family's access tokens passing on every process for their life.
    d = deployment
    d.user("replayed")
    with serve_process(d.work, env=d.env, data_dir=d.data) as a, a.client() as ca:
        first = login(ca, "replayed").json()
        second = ca.post("/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
        assert ca.get("/users/me", headers=bearer(second["access_token"])).status_code == 200
        with d.b.client() as cb:
            d.proxy.cut()
            try:
                replay = cb.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
                _refused_for_redis(replay)
            finally:
                d.proxy.restore()
            # B's next request that reaches Redis writes what Redis missed, then checks.
            assert cb.get("/users/me", headers=bearer(second["access_token"])).status_code == 401
        assert ca.get("/users/me", headers=bearer(second["access_token"])).status_code == 401
        again = ca.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
        assert again.status_code == 400, again.text
    assert '"outcome": "reuse_detected", "user": "replayed"' in d.audit()
    assert "Traceback" not in a.stderr, a.stderr[-2000:]


def test_a_refusal_redis_missed_reaches_other_processes_with_no_more_requests_to_its_own(
    deployment: Deployment,
) -> None:
    # B keeps what Redis missed and writes it from a task of its own once Redis answers:
    # waiting for B's next request left the family's tokens passing on A meanwhile.
    import time

    d = deployment
    d.user("left-idle")
    with serve_process(d.work, env=d.env, data_dir=d.data) as a, a.client() as ca:
        first = login(ca, "left-idle").json()
        second = ca.post("/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
        h = bearer(second["access_token"])
        assert ca.get("/users/me", headers=h).status_code == 200
        with d.b.client() as cb:
            d.proxy.cut()
            try:
                replay = cb.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
                _refused_for_redis(replay)
            finally:
                d.proxy.restore()
        # Not one more request to B. A guard against a hang, not a measure of the wait:
        deadline = time.monotonic() + 120
        while (answer := ca.get("/users/me", headers=h)).status_code == 200:
            assert time.monotonic() < deadline, "A still accepts the revoked family's token"
            time.sleep(0.2)
        assert answer.status_code == 401, answer.text
    assert "Traceback" not in a.stderr, a.stderr[-2000:]


class _Traffic:
    """Clients logging in once, then refreshing and calling ``/users/me`` until stopped;
    every answer that is not 200 (or exception) is kept."""

    def __init__(self, server: ServeProcess, users: list[str]) -> None:
        self.failures: list[Any] = []
        self.rounds = 0
        self._stop = threading.Event()
        self._progress = threading.Condition()
        self._threads = [threading.Thread(target=self._run, args=(server, u)) for u in users]
        for t in self._threads:
            t.start()

    def _run(self, server: ServeProcess, user: str) -> None:
        try:
            with server.client() as c:
                answer = login(c, user)
                while answer.status_code == 200 and not self._stop.is_set():
                    tokens = answer.json()
                    me = c.get("/users/me", headers=bearer(tokens["access_token"]))
                    if me.status_code != 200:
                        self.failures.append((user, "/users/me", me.status_code, me.text))
                    answer = c.post(
                        "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
                    )
                    with self._progress:
                        self.rounds += 1
                        self._progress.notify_all()
                    self._stop.wait(0.05)  # a client's pace: the restarts get the CPU too
                if answer.status_code != 200:
                    self.failures.append((user, "token", answer.status_code, answer.text))
        except Exception as exc:  # noqa: BLE001 - kept for the assertion, with its type
            self.failures.append((user, type(exc).__name__, str(exc)))

    def more_rounds(self) -> None:
        """Wait until every client has done another round (or one has failed)."""
        with self._progress:
            target = self.rounds + len(self._threads)
            assert self._progress.wait_for(
                lambda: self.rounds >= target or bool(self.failures), timeout=60
            ), "the clients made no progress"

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(60)


def test_a_rolling_restart_leaves_the_other_process_serving_and_detects_reuse_across_it(
    deployment: Deployment,
) -> None:
    d = deployment
    users = ["rolling-0", "rolling-1"]
    for name in [*users, "rotated"]:
        d.user(name)
    traffic = _Traffic(d.b, users)
    try:
        with serve_process(d.work, env=d.env, data_dir=d.data) as a:
            with a.client() as ca:
                used = login(ca, "rotated").json()
                live = ca.post("/auth/refresh", json={"refresh_token": used["refresh_token"]})
                assert live.status_code == 200
            traffic.more_rounds()
        assert a.proc.returncode == 0, a.stderr[-2000:]  # SIGTERM: finished, then stopped
        traffic.more_rounds()  # B served on while A was down
        with d.b.client() as cb:
            replay = cb.post("/auth/refresh", json={"refresh_token": used["refresh_token"]})
            assert replay.status_code == 400, replay.text
        with serve_process(d.work, env=d.env, data_dir=d.data) as again:
            traffic.more_rounds()
            with again.client() as ca:
                h = bearer(live.json()["access_token"])
                assert ca.get("/users/me", headers=h).status_code == 401
                assert login(ca, "rotated").status_code == 200
    finally:
        traffic.stop()
    assert traffic.failures == []
    for server in (a, again):
        assert "Traceback" not in server.stderr, server.stderr[-2000:]


async def _terminate_connections(database: str) -> int:
    """End every server process connected to ``database`` (this module's own)."""
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        rows = await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await conn.close()
    return len(rows)


def test_database_connections_killed_under_both_processes_are_replaced_before_the_next_request(
    deployment: Deployment,
) -> None:
    d = deployment
    d.user("survivor", "users:admin")
    with (
        serve_process(d.work, env=d.env, data_dir=d.data) as a,
        a.client() as ca,
        d.b.client() as cb,
    ):
        tokens = {c: login(c, "survivor").json() for c in (ca, cb)}
        assert asyncio.run(_terminate_connections(d.database)) >= 2  # each process's pool
        for c, t in tokens.items():
            refreshed = c.post("/auth/refresh", json={"refresh_token": t["refresh_token"]})
            assert refreshed.status_code == 200, refreshed.text
            listed = c.get("/users", headers=bearer(refreshed.json()["access_token"]))
            assert listed.status_code == 200, listed.text
            assert login(c, "survivor").status_code == 200
    assert "Traceback" not in a.stderr, a.stderr[-2000:]
    assert "unhandled" not in a.stderr, a.stderr[-2000:]


def test_a_password_change_whose_sessions_redis_missed_ends_them_everywhere_once_it_answers(
    deployment: Deployment,
) -> None:
    # The new password is stored before Redis is told to end the sessions: a change
    # answered 503 at that step cannot be repeated (the old password is gone), so the
    # ending must not be lost with the answer.
    import hashlib

    from sealbox.accounts.revocation import _RAISE

    d = deployment
    d.user("changer")
    raise_script = hashlib.sha1(_RAISE.encode()).hexdigest().encode()  # EVALSHA names it so
    with serve_process(d.work, env=d.env, data_dir=d.data) as a, a.client() as ca:
        on_a = login(ca, "changer").json()["access_token"]
        with d.b.client() as cb:
            on_b = login(cb, "changer").json()["access_token"]
            d.proxy.drop_on = raise_script  # Redis answers B, but never takes the cut-off
            try:
                body = {"current_password": PASSWORD, "new_password": "a new pass for changer"}
                _refused_for_redis(cb.post("/auth/password", json=body, headers=bearer(on_b)))
            finally:
                d.proxy.drop_on = None
            assert cb.get("/users/me", headers=bearer(on_b)).status_code == 401
        assert ca.get("/users/me", headers=bearer(on_a)).status_code == 401
        assert login(ca, "changer", "a new pass for changer").status_code == 200
    assert '"event": "password_change", "outcome": "success", "user": "changer"' in d.audit()
