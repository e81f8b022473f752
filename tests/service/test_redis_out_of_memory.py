"""A ``noeviction`` Redis that is out of memory: it refuses every write (``OOM command not
allowed when used memory > 'maxmemory'``) and still answers reads.

Every write path answers 503 and is logged once, never a 500: a logout, a sign-in (its
throttle count), a password change, a refresh family ended by reuse, an administrator's
disable (503 ``revocation_incomplete``: made in the database). Checks of tokens go on.
The test runs a ``redis-server`` of its own and fills it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import redis

from sealbox.service.admin import create_user
from tests.service._private_redis import fill, private_redis
from tests.service.conftest import PASSWORD, bearer, login, make_settings, register, run_service

pytestmark = pytest.mark.redis


def _refused(answer, error: str = "store_unavailable") -> str:
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"] == error, answer.text
    assert answer.headers["retry-after"] == "5"
    assert "127.0.0.1" not in answer.text
    return str(answer.json()["message"])


def test_every_write_to_a_full_redis_is_503_and_reads_go_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with private_redis(tmp_path, "noeviction") as url:
        settings = make_settings(tmp_path / "data", redis_url=url, redis_prefix="sealbox-oom:")
        with caplog.at_level(logging.WARNING), run_service(settings) as service:
            create_user(settings, "root", lambda _name: PASSWORD, ["users:admin"])
            with service.client() as c:
                admin = bearer(login(c, "root").json()["access_token"])
                register(c, "olga")
                register(c, "pete")
                olga = login(c, "olga").json()
                pete = login(c, "pete").json()
                refreshed = c.post("/auth/refresh", json={"refresh_token": pete["refresh_token"]})
                assert refreshed.status_code == 200
                caplog.clear()

                assert fill(url, lambda _client: False) > 0  # until a write is refused

                h = bearer(olga["access_token"])
                assert c.get("/users/me", headers=h).status_code == 200  # reads go on
                message = _refused(
                    c.post("/auth/logout", json={"refresh_token": olga["refresh_token"]}, headers=h)
                )
                assert message.startswith("Redis refused "), message  # it answered
                _refused(login(c, "olga"))  # its throttle count cannot be written
                body = {"current_password": PASSWORD, "new_password": "a brand new password"}
                _refused(c.post("/auth/password", json=body, headers=bearer(pete["access_token"])))
                # A reused refresh token ends its family: Redis refuses the record.
                _refused(c.post("/auth/refresh", json={"refresh_token": pete["refresh_token"]}))
                _refused(c.post("/users/pete/disable", headers=admin), "revocation_incomplete")
                # The process refuses what Redis missed itself.
                assert c.get("/users/me", headers=h).status_code == 401
                assert c.get("/users/me", headers=bearer(pete["access_token"])).status_code == 401

                outage = [r for r in caplog.records if "Redis is unavailable" in r.getMessage()]
                assert len(outage) == 1, [r.getMessage() for r in outage]
                assert (
                    outage[0]
                    .getMessage()
                    .startswith(
                        "Redis is unavailable: Redis refused the write (its used memory is above "
                        "its maxmemory) while recording a revocation (OutOfMemoryError)"
                    )
                ), outage[0].getMessage()
                assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

                client = redis.Redis.from_url(url)
                client.delete(*client.keys("filler:*"))
                assert not client.keys("sealbox-oom:jti:*")
                # Room again: the next check writes what Redis refused, and sign-ins count.
                assert c.get("/users/me", headers=h).status_code == 401
                assert client.keys("sealbox-oom:jti:*")
                client.close()
                assert login(c, "olga").status_code == 200
