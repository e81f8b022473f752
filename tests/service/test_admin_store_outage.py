"""The ``/users`` administration routes when Redis or PostgreSQL stops answering.

Redis cut after the change is committed (the end of the account's sessions, or a deleted
account's refresh families, not written there): the change stands, and the answer says so,
503 ``revocation_incomplete``, never a 422 that would call the request invalid; the audit
log records the change as made. Repeating a disable once Redis answers ends the sessions
in Redis. PostgreSQL dropping the connection in the change's transaction: 503
``store_unavailable``, audited as a failure.

The service runs on a PostgreSQL database and Redis key prefix of its own; Redis is the
real one, reached through a forwarder this test cuts at the first write of the request.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import redis

from sealbox.service.admin import create_user
from tests._tcp_proxy import Proxy, forwarding
from tests.service.conftest import (
    PASSWORD,
    Running,
    bearer,
    login,
    make_settings,
    private_shared_state,
    register,
    run_service,
)
from tests.service.test_database_lost_mid_request import HeldInside, _until

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

# A write to Redis: raising a session version (a script), recording a revoked family.
_WRITES = (b"\r\nEVALSHA\r\n", b"\r\nEVAL\r\n", b"\r\nSET\r\n", b"\r\nDEL\r\n")


class CutAtWrite(Proxy):
    """Forwards to Redis; once ``armed``, the first write is not sent and every connection
    is closed (new ones too) until ``restore()``, as a Redis gone mid-command looks."""

    def __init__(self, target: tuple[str, int]) -> None:
        super().__init__(target)
        self.armed = False
        self.cuts = 0
        self.watch = self._look

    def _look(self, data: bytes) -> bool:
        if self.armed and any(write in data for write in _WRITES):
            self.armed = False
            self.cuts += 1
            return False
        return True


@pytest.fixture
def shared() -> Iterator[dict[str, Any]]:
    with private_shared_state("adm_outage") as state:
        yield state


@pytest.fixture
def forwarded(shared: dict[str, Any]) -> Iterator[tuple[CutAtWrite, str]]:
    with forwarding(str(shared["redis_url"]), CutAtWrite) as made:
        yield made


@pytest.fixture
def proxy(forwarded: tuple[CutAtWrite, str]) -> CutAtWrite:
    return forwarded[0]


@pytest.fixture
def service(
    tmp_path: Path, shared: dict[str, Any], forwarded: tuple[CutAtWrite, str]
) -> Iterator[Running]:
    settings = make_settings(tmp_path / "data", **{**shared, "redis_url": forwarded[1]})
    with run_service(settings) as running:
        create_user(settings, "root", lambda _name: PASSWORD, ["users:admin"])
        yield running


def _records(service: Running, event: str) -> list[tuple[str, str, str]]:
    lines = service.audit().splitlines()
    return [
        (r["outcome"], r["user"], r["detail"])
        for r in map(json.loads, lines)
        if r["event"] == event
    ]


def _session_versions(service: Running, shared: dict[str, Any], user_id: int) -> tuple[int, int]:
    """The account's session version in the database, and as Redis holds it (0: none)."""
    import asyncpg

    async def stored() -> int:
        url = str(shared["database_url"]).replace("postgresql+asyncpg://", "postgresql://")
        conn = await asyncpg.connect(url)
        try:
            return int(
                await conn.fetchval("SELECT session_version FROM users WHERE id = $1", user_id)
            )
        finally:
            await conn.close()

    client = redis.Redis.from_url(str(shared["redis_url"]))
    try:
        raw = client.get(f"{shared['redis_prefix']}sv:{user_id}")
    finally:
        client.close()
    return asyncio.run(stored()), int(raw) if raw is not None else 0


def test_a_disable_redis_misses_after_the_commit_is_503_revocation_incomplete_and_stands(
    service: Running, shared: dict[str, Any], proxy: CutAtWrite
) -> None:
    with service.client() as c:
        admin = bearer(login(c, "root").json()["access_token"])
        register(c, "bob")
        live = bearer(login(c, "bob").json()["access_token"])
        bob = c.get("/users/bob", headers=admin).json()["id"]
        proxy.armed = True
        r = c.post("/users/bob/disable", headers=admin)
        assert proxy.cuts == 1
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"] == "5"
        assert r.json()["error"] == "revocation_incomplete"
        message = r.json()["message"]
        assert message.startswith("the change is made, but Redis did not answer ("), message
        assert "repeat the request once Redis answers to end them" in message
        # Made, and recorded as made (not "refused") in its transaction; then what it missed.
        assert _records(service, "admin.disable") == [
            ("success", "bob", "by root"),
            ("revocation_incomplete", "bob", "by root; Redis did not answer"),
        ]
        proxy.restore()
        assert c.get("/users/bob", headers=admin).json()["disabled"] is True
        before, _ = _session_versions(service, shared, bob)
        # Repeated once Redis answers: the sessions are ended in Redis, for every worker.
        again = c.post("/users/bob/disable", headers=admin)
        assert again.status_code == 200, again.text
        assert again.json()["disabled"] is True
        stored, in_redis = _session_versions(service, shared, bob)
        assert stored == in_redis == before + 1
        assert c.get("/users/me", headers=live).status_code == 401
    assert _records(service, "admin.disable")[2:] == [("success", "bob", "by root")]


def test_a_delete_redis_misses_after_the_commit_says_the_account_is_gone_for_good(
    service: Running, proxy: CutAtWrite
) -> None:
    with service.client() as c:
        admin = bearer(login(c, "root").json()["access_token"])
        register(c, "dave")
        assert login(c, "dave").status_code == 200  # a refresh family to refuse
        proxy.armed = True
        r = c.delete("/users/dave", headers=admin)
        assert proxy.cuts == 1
        assert r.status_code == 503, r.text
        # A repeat cannot complete it: no wait is named.
        assert "retry-after" not in r.headers
        assert r.json()["error"] == "revocation_incomplete"
        assert (
            "the account is gone, so repeating the request cannot complete it"
            in (r.json()["message"])
        )
        proxy.restore()
        assert c.get("/users/dave", headers=admin).status_code == 404
        assert c.delete("/users/dave", headers=admin).json()["error"] == "account_not_found"
    assert _records(service, "admin.delete") == [
        ("success", "dave", "by root"),
        ("revocation_incomplete", "dave", "by root; Redis did not answer"),
        ("not_found", "dave", "by root"),
    ]


class RowHeld(HeldInside):
    """This test's own transaction holding one account's row (``FOR UPDATE``): reading it
    is not held, a change to it waits."""

    def __init__(self, database: str, username: str) -> None:
        super().__init__(database)
        self._username = username

    async def _lock(self) -> None:
        import asyncpg

        from tests.service.test_database_lost_mid_request import _admin_url

        self._conn = await asyncpg.connect(_admin_url(self._database))
        await self._conn.execute("BEGIN")
        await self._conn.execute(
            "SELECT 1 FROM users WHERE username = $1 FOR UPDATE", self._username
        )


@pytest.mark.parametrize("route", ["disable", "scopes"])
def test_a_change_whose_database_connection_is_lost_is_503_store_unavailable(
    service: Running, shared: dict[str, Any], route: str
) -> None:
    database = str(shared["database_url"]).rsplit("/", 1)[1]
    with service.client() as c:
        admin = bearer(login(c, "root").json()["access_token"])
        register(c, "erin")
    answers: list[httpx2.Response] = []

    def change() -> None:
        with service.client() as c:
            if route == "disable":
                answers.append(c.post("/users/erin/disable", headers=admin))
            else:
                body = {"scopes": ["transit:admin"]}
                answers.append(c.post("/users/erin/scopes", json=body, headers=admin))

    with RowHeld(database, "erin") as held:
        sending = threading.Thread(target=change)
        sending.start()
        _until(lambda: held.waiting() >= 1 or not sending.is_alive(), lambda: answers)
        assert held.terminate_waiting() == 1, answers
    sending.join(60)
    (r,) = answers
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] == "5"
    assert r.json()["error"] == "store_unavailable"
    assert r.json()["message"].startswith("PostgreSQL did not answer while "), r.text
    event = "admin.disable" if route == "disable" else "admin.grant"
    assert _records(service, event) == [("failure", "erin", "by root; PostgreSQL did not answer")]
    with service.client() as c:
        shown = c.get("/users/erin", headers=admin).json()
    assert (shown["disabled"], shown["scopes"]) == (False, ["users:me"])


class CutAtSecondSweep(Proxy):
    """Forwards to Redis; once ``armed``, the second write of a client's family (the sweep
    after the deletion) is not sent and every connection is closed until ``restore()``."""

    def __init__(self, target: tuple[str, int]) -> None:
        super().__init__(target)
        self.armed = False
        self.seen = 0
        self.watch = self._look

    def _look(self, data: bytes) -> bool:
        if not (self.armed and b"\r\nSET\r\n" in data and b"family:client:" in data):
            return True
        self.seen += 1
        if self.seen < 2:
            return True
        self.armed = False
        return False


def test_a_client_delete_redis_misses_after_the_deletion_is_503_and_audited_as_made(
    tmp_path: Path, shared: dict[str, Any]
) -> None:
    from tests.service._oauth import auth_server

    with (
        forwarding(str(shared["redis_url"]), CutAtSecondSweep) as (proxy, proxied),
        auth_server(tmp_path, **{**shared, "redis_url": proxied}) as server,
    ):
        admin = server.register("admin", "clients:admin")
        token = server.client_token(admin).json()["access_token"]
        server.register("reporting", "users:me")
        proxy.armed = True
        with server.client() as c:
            r = c.delete("/clients/reporting", headers=bearer(token))
        assert proxy.seen == 2  # the sweep after the deletion was cut
        assert r.status_code == 503, r.text
        # A repeat cannot complete it: no wait is named.
        assert "retry-after" not in r.headers
        assert r.json()["error"] == "revocation_incomplete"
        assert r.json()["message"].startswith(
            "deleted client 'reporting', but Redis did not answer ("
        ), r.text
        proxy.restore()
        with server.client() as c:
            gone = c.get("/clients/reporting", headers=bearer(token))
        assert gone.status_code == 404, gone.text
        records = [json.loads(line) for line in server.svc.audit().splitlines()]
        deletions = [(r["outcome"], r["detail"]) for r in records if r["event"] == "client_delete"]
        # Recorded in its transaction, then what the sweep after the deletion left undone.
        assert deletions == [
            ("success", "reporting"),
            ("incomplete", "reporting; tokens ended in part"),
        ]


def test_a_delete_redis_misses_still_refuses_every_family_once_redis_answers(
    service: Running, shared: dict[str, Any], proxy: CutAtWrite
) -> None:
    import jwt as pyjwt

    with service.client() as c:
        admin = bearer(login(c, "root").json()["access_token"])
        register(c, "fay")
        tokens = [login(c, "fay").json()["access_token"] for _ in range(3)]
        families = {pyjwt.decode(t, options={"verify_signature": False})["sid"] for t in tokens}
        assert len(families) == 3
        proxy.armed = True
        r = c.delete("/users/fay", headers=admin)
        assert proxy.cuts == 1
        assert r.json()["error"] == "revocation_incomplete", r.text
        proxy.restore()
    # Every family reaches Redis once it answers (the worker writes what it missed), not
    # only those told before the first failure: other workers refuse them all.
    client = redis.Redis.from_url(str(shared["redis_url"]))
    keys = [f"{shared['redis_prefix']}jti:family:{f}" for f in sorted(families)]
    try:
        _until(
            lambda: all(client.exists(k) for k in keys), lambda: [client.exists(k) for k in keys]
        )
    finally:
        client.close()
