"""A ``sealbox serve`` whose PostgreSQL or Redis goes away and comes back while it runs:
during the outage every answer that needed the store is a clean ``503 store_unavailable``
with a ``Retry-After`` (never a 500, never a hang), logins are refused (a throttle that
cannot count lets nothing through), and the very next requests after the store answers
again succeed, with no restart; throttling counts again. A connection cut under a refresh's
rotation leaves one live token at most. The database URL's password is in no answer and no
log line.

Real PostgreSQL and Redis, each reached through a forwarder (``tests._tcp_proxy``) the test
cuts and restores; the machine's servers are never stopped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pytest

from tests._tcp_proxy import Proxy, proxy_to
from tests.service._transit import ALL_SCOPES, add_user
from tests.service.conftest import (
    ServeProcess,
    bearer,
    login,
    make_settings,
    private_shared_state,
    serve_process,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

DB_PASSWORD = "canary-outage-db-pw-41c9"
ATTEMPTS = 3


@dataclass
class Outage:
    server: ServeProcess
    postgres: Proxy
    redis: Proxy
    settings: Any


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outage]:
    with private_shared_state("outage") as shared:
        db = urlsplit(str(shared["database_url"]))
        rd = urlsplit(str(shared["redis_url"]))
        with (
            proxy_to(db.hostname or "127.0.0.1", db.port or 5432) as postgres,
            proxy_to(rd.hostname or "127.0.0.1", rd.port or 6379) as redis,
        ):
            # PostgreSQL here trusts local connections: the password is only carried.
            url = (
                db._replace(
                    netloc=f"{db.username}:{DB_PASSWORD}@127.0.0.1:{postgres.port}"
                ).geturl()
                + "?command_timeout=2&connect_timeout=2"
            )
            state = {
                **shared,
                "database_url": url,
                "redis_url": rd._replace(netloc=f"127.0.0.1:{redis.port}").geturl(),
            }
            env = {f"SEALBOX_{k.upper()}": str(v) for k, v in state.items()}
            env["SEALBOX_PASSWORD_PROFILE"] = "test"
            env["SEALBOX_THROTTLE_USER_ATTEMPTS"] = str(ATTEMPTS)
            work = tmp_path_factory.mktemp("outage")
            data = work / "data"
            settings = make_settings(data, **state)
            with serve_process(work, env=env, data_dir=data):
                pass  # provisions the data folder and migrates the database
            for name in ("ops", "ann", "bob", "cat", "dan", "eve"):
                add_user(settings, name, ["users:admin", *ALL_SCOPES])
            with serve_process(work, env=env, data_dir=data) as server:
                yield Outage(server, postgres, redis, settings)
            assert DB_PASSWORD not in server.stderr
            assert "Traceback" not in server.stderr


def _refused(answer: httpx2.Response) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"] == "store_unavailable", answer.text
    assert answer.headers["retry-after"] == "5"
    assert DB_PASSWORD not in answer.text and "127.0.0.1" not in answer.text


def _refresh(c: httpx2.Client, token: str) -> httpx2.Response:
    return c.post("/auth/token", data={"grant_type": "refresh_token", "refresh_token": token})


def _encrypt(c: httpx2.Client, token: str) -> httpx2.Response:
    body = {"plaintext": "aGk="}
    return c.post("/v1/transit/encrypt/outage", json=body, headers={"X-Vault-Token": token})


def test_a_postgres_outage_is_answered_503_and_the_next_requests_succeed(
    outage: Outage,
) -> None:
    with outage.server.client() as c:
        tokens = login(c, "ops").json()
        access, refresh = tokens["access_token"], tokens["refresh_token"]
        assert _encrypt(c, access).status_code == 200  # the key is made and cached
        outage.postgres.cut()
        try:
            _refused(login(c, "ops"))
            _refused(_refresh(c, refresh))
            for answer in (c.get("/users/me", headers=bearer(access)), _encrypt(c, access)):
                # Nothing else needed the database, or a clean refusal.
                assert answer.status_code in (200, 503), answer.text
                if answer.status_code == 503:
                    assert answer.headers["retry-after"] == "5"
                    assert DB_PASSWORD not in answer.text
        finally:
            outage.postgres.restore()
        # The pooled connections the cut closed are never lent again: no restart needed.
        tokens = login(c, "ops").json()
        assert _refresh(c, tokens["refresh_token"]).status_code == 200
        assert c.get("/users/me", headers=bearer(tokens["access_token"])).status_code == 200
        assert _encrypt(c, tokens["access_token"]).status_code == 200
        assert _refresh(c, refresh).status_code == 200  # the old family lived through it


def test_a_redis_outage_refuses_logins_and_throttling_counts_again_after(
    outage: Outage,
) -> None:
    with outage.server.client() as c:
        access = login(c, "ann").json()["access_token"]
        outage.redis.cut()
        try:
            _refused(login(c, "ann"))
            # Wrong passwords the throttle cannot count are not let through unchecked.
            for _ in range(ATTEMPTS + 2):
                _refused(login(c, "ann", "wrong password"))
            _refused(c.get("/users/me", headers=bearer(access)))
        finally:
            outage.redis.restore()
        assert c.get("/users/me", headers=bearer(access)).status_code == 200
        codes = [login(c, "ann", "wrong password").status_code for _ in range(ATTEMPTS + 1)]
        assert codes == [400] * ATTEMPTS + [429], codes  # invalid_grant, then throttled
        assert login(c, "ann").status_code == 429  # the right password too, while throttled


def test_logins_refused_for_a_postgres_outage_do_not_count_against_the_throttle(
    outage: Outage,
) -> None:
    # No password was checked: a client retrying after Retry-After through an outage is
    # no guesser, and is not locked out for the window once the database answers again.
    with outage.server.client() as c:
        outage.postgres.cut()
        try:
            for _ in range(ATTEMPTS + 1):
                _refused(login(c, "dan"))
        finally:
            outage.postgres.restore()
        assert login(c, "dan").status_code == 200


def test_a_refresh_cut_at_its_commit_leaves_at_most_one_live_token(outage: Outage) -> None:
    with outage.server.client() as c:
        refresh = login(c, "bob").json()["refresh_token"]
        outage.postgres.lose_reply_to = b"COMMIT"  # committed, its answer never heard
        try:
            first = _refresh(c, refresh)
        finally:
            outage.postgres.lose_reply_to = None
        assert outage.postgres.replies_lost == 1
        _refused(first)
        retry = _refresh(c, refresh)
        assert retry.status_code in (200, 400), retry.text
        if retry.status_code == 400:
            assert retry.json()["error"] == "invalid_grant"
        else:
            # The retry's token is the one live token: the first one's, never answered,
            # is no second head of the family.
            assert _refresh(c, retry.json()["refresh_token"]).status_code == 200


def test_a_refresh_cut_before_its_commit_is_not_lost(outage: Outage) -> None:
    with outage.server.client() as c:
        refresh = login(c, "cat").json()["refresh_token"]
        outage.postgres.drop_on = b"COMMIT"  # the connection closes; nothing committed
        try:
            _refused(_refresh(c, refresh))
        finally:
            outage.postgres.drop_on = None
        again = _refresh(c, refresh)
        assert again.status_code == 200, again.text
        assert _refresh(c, again.json()["refresh_token"]).status_code == 200
        assert _refresh(c, refresh).json()["error"] == "invalid_grant"


def test_the_log_says_each_outage_once_without_the_database_password(outage: Outage) -> None:
    err = Path(outage.server.data_dir).parent / f"serve-{outage.server.port}.err"
    before = err.read_text()
    with outage.server.client() as c:
        outage.postgres.cut()
        try:
            for _ in range(2):
                _refused(login(c, "eve"))
        finally:
            outage.postgres.restore()
        assert login(c, "eve").status_code == 200
    lines = err.read_text()[len(before) :].splitlines()
    assert DB_PASSWORD not in "\n".join(lines)
    # One line each way, whatever the number of requests refused meanwhile (each of
    # those has its own "answered 503" line).
    down = [line for line in lines if "PostgreSQL is unavailable" in line]
    back = [line for line in lines if "PostgreSQL answers again" in line]
    assert len(down) == 1, lines
    assert len(back) == 1, lines


def test_the_log_says_each_redis_outage_once(outage: Outage) -> None:
    err = Path(outage.server.data_dir).parent / f"serve-{outage.server.port}.err"
    before = err.read_text()
    with outage.server.client() as c:
        access = login(c, "eve").json()["access_token"]
        outage.redis.cut()
        try:
            for _ in range(3):
                _refused(c.get("/users/me", headers=bearer(access)))
            _refused(login(c, "eve"))
        finally:
            outage.redis.restore()
        assert c.get("/users/me", headers=bearer(access)).status_code == 200
        assert login(c, "eve").status_code == 200
    lines = err.read_text()[len(before) :].splitlines()
    assert len([line for line in lines if "Redis is unavailable" in line]) == 1, lines
    assert len([line for line in lines if "Redis answers again" in line]) == 1, lines


def test_a_postgres_that_stops_answering_is_answered_503_past_the_url_timeouts(
    outage: Outage,
) -> None:
    # The URL's command_timeout and connect_timeout bound each wait: the pool's check of
    # a pooled connection, then the new connection it opens. Neither is a bare 500.
    with outage.server.client() as c:
        assert login(c, "ops").status_code == 200
        outage.postgres.hang()
        try:
            _refused(login(c, "ops", "wrong password"))
        finally:
            outage.postgres.restore()
        assert login(c, "ops").status_code == 200
