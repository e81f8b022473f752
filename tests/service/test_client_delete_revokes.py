"""Deleting a machine client refuses the access tokens it already holds, at once, whether
an admin deletes it over HTTP or ``sealbox clients delete`` does it beside the running
service (one worker, no Redis: through the data folder's changes file)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from sealbox.accounts.revocation import KEEP_MARGIN, WATCH_INTERVAL
from sealbox.service.admin import create_user
from sealbox.service.settings import ServiceSettings
from tests.service._oauth import AuthServer, access_token, auth_server, live
from tests.service.conftest import (
    PASSWORD,
    REDIS_PREFIX,
    REDIS_URL,
    bearer,
    login,
    require_server,
)


@pytest.fixture(scope="module")
def authz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    with auth_server(tmp_path_factory.mktemp("clients-delete")) as server:
        create_user(server.svc.settings, "root", lambda _n: PASSWORD, ["clients:admin"])
        yield server


def test_a_client_deleted_over_http_has_its_live_tokens_refused(authz: AuthServer) -> None:
    doomed = authz.register("doomed-http", "kv:read:secret/")
    other = authz.register("bystander-http", "kv:read:secret/")
    tokens = [access_token(authz, doomed), access_token(authz, doomed)]
    kept = access_token(authz, other)
    assert all(live(authz, t) for t in [*tokens, kept])
    with authz.client() as c:
        admin = login(c, "root").json()["access_token"]
        assert c.delete("/clients/doomed-http", headers=bearer(admin)).status_code == 204
    assert not any(live(authz, t) for t in tokens)
    assert live(authz, kept)


def test_a_client_deleted_by_the_command_line_has_its_live_tokens_refused(
    authz: AuthServer, cli
) -> None:
    doomed = authz.register("doomed-cli", "kv:read:secret/")
    other = authz.register("bystander-cli", "kv:read:secret/")
    token, kept = access_token(authz, doomed), access_token(authz, other)
    assert live(authz, token) and live(authz, kept)
    data = authz.svc.settings.data_dir
    result = cli(["clients", "delete", "doomed-cli", "--yes", "--data-dir", data])
    assert result.code == 0, result.stderr
    asyncio.run(asyncio.sleep(WATCH_INTERVAL))
    assert not live(authz, token)
    assert live(authz, kept)
    # The deleted client cannot get another token either.
    assert authz.client_token(doomed).status_code == 401


def test_the_command_line_records_the_refusal_in_redis_before_deleting(tmp_path: Path, cli) -> None:
    require_server("Redis", 6379)
    import redis

    prefix = f"{REDIS_PREFIX}client-delete:"
    env = {"SEALBOX_REDIS_URL": REDIS_URL, "SEALBOX_REDIS_PREFIX": prefix}
    data = tmp_path / "data"
    made = cli(["clients", "create", "doomed-redis", "--json", "--data-dir", data], env=env)
    assert made.code == 0, made.stderr
    client_id = json.loads(made.out)["client_id"]
    done = cli(["clients", "delete", "doomed-redis", "--yes", "--data-dir", data], env=env)
    assert done.code == 0, done.stderr
    listed = cli(["clients", "list", "--json", "--data-dir", data], env=env)
    assert json.loads(listed.out) == []
    client = redis.Redis.from_url(REDIS_URL)
    try:
        marker = f"{prefix}jti:family:client:{client_id}"
        assert client.get(marker) == b"1"
        ttl = ServiceSettings.model_fields["access_token_ttl"].default
        assert 0 < client.ttl(marker) <= ttl + KEEP_MARGIN + 1  # as long as a token lives
        client.delete(marker)
    finally:
        client.close()
