"""A Redis whose ``maxmemory-policy`` may evict sealbox's keys.

Under memory pressure such a Redis deletes keys without a word: an evicted revocation
lets its logged-out token pass again. ``sealbox serve`` refuses such a Redis
(``redis_evicts``) unless the operator accepts the risk
(``SEALBOX_REDIS_ALLOW_EVICTION``), and says what it could not check when Redis keeps
its configuration to itself. Each test runs a ``redis-server`` of its own.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import redis

from sealbox.exceptions import ConfigError
from sealbox.service.serve import prepare
from tests.service._private_redis import fill, private_redis
from tests.service.conftest import bearer, login, make_settings, register, run_service

pytestmark = pytest.mark.redis

PREFIX = "sealbox-evict:"


@pytest.mark.parametrize("policy", ["allkeys-lru", "volatile-lru", "volatile-ttl"])
def test_serve_refuses_a_redis_whose_policy_evicts_keys(tmp_path: Path, policy: str) -> None:
    with private_redis(tmp_path, policy) as url:
        settings = make_settings(tmp_path / "data", redis_url=url, redis_prefix=PREFIX)
        with pytest.raises(ConfigError) as caught:
            prepare(settings, serving=True)
    assert caught.value.code == "redis_evicts"
    assert caught.value.facts["policy"] == policy
    assert f"maxmemory-policy is {policy}" in str(caught.value)
    assert "SEALBOX_REDIS_ALLOW_EVICTION" in (caught.value.hint or "")
    assert url not in str(caught.value)
    assert not (tmp_path / "data").exists()  # refused before the folder is made


def test_an_evicted_revocation_lets_a_logged_out_token_pass_when_accepted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The fail-open the refusal above guards against, shown where an operator accepted it.
    with private_redis(tmp_path, "allkeys-lru") as url:
        settings = make_settings(
            tmp_path / "data", redis_url=url, redis_prefix=PREFIX, redis_allow_eviction=True
        )
        with caplog.at_level(logging.WARNING), run_service(settings) as service:
            said = [r.getMessage() for r in caplog.records]
            assert any(
                "maxmemory-policy is allkeys-lru" in line and "ALLOW_EVICTION" in line
                for line in said
            ), said
            with service.client() as c:
                register(c, "eve")
                tokens = login(c, "eve").json()
                h = bearer(tokens["access_token"])
                r = c.post(
                    "/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=h
                )
                assert r.status_code == 204
                assert c.get("/users/me", headers=h).status_code == 401

                def revocations_gone(client: redis.Redis) -> bool:
                    return not client.keys(f"{PREFIX}jti:*")

                assert fill(url, revocations_gone) > 0
                assert revocations_gone(redis.Redis.from_url(url))
                # Redis forgot the logout: the revoked token passes again.
                assert c.get("/users/me", headers=h).status_code == 200


def test_serve_starts_on_a_noeviction_redis_without_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with private_redis(tmp_path, "noeviction") as url:
        settings = make_settings(tmp_path / "data", redis_url=url, redis_prefix=PREFIX)
        with caplog.at_level(logging.WARNING):
            prepare(settings, serving=True)
    assert not [r for r in caplog.records if "maxmemory-policy" in r.getMessage()]


def test_a_redis_without_config_is_read_through_info(tmp_path: Path) -> None:
    with private_redis(tmp_path, "allkeys-lru", "--rename-command", "CONFIG", "") as url:
        settings = make_settings(tmp_path / "data", redis_url=url, redis_prefix=PREFIX)
        with pytest.raises(ConfigError) as caught:
            prepare(settings, serving=True)
    assert caught.value.code == "redis_evicts"


def test_a_redis_that_hides_its_policy_starts_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hidden = ("--rename-command", "CONFIG", "", "--rename-command", "INFO", "")
    with private_redis(tmp_path, "allkeys-lru", *hidden) as url:
        settings = make_settings(tmp_path / "data", redis_url=url, redis_prefix=PREFIX)
        with caplog.at_level(logging.WARNING):
            prepare(settings, serving=True)  # not refused: nothing says it evicts
    said = [r.getMessage() for r in caplog.records]
    assert any("could not read Redis's maxmemory-policy" in line for line in said), said
