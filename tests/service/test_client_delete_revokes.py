"""Deleting a machine client refuses the access tokens it already holds, at once, whether
an admin deletes it over HTTP or ``sealbox clients delete`` does it beside the running
service (one worker, no Redis: through the data folder's changes file)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from sealbox.accounts.revocation import WATCH_INTERVAL
from sealbox.service.admin import create_user
from tests.service._oauth import AuthServer, Registered, auth_server
from tests.service.conftest import PASSWORD, bearer, login


@pytest.fixture(scope="module")
def authz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    with auth_server(tmp_path_factory.mktemp("clients-delete")) as server:
        create_user(server.svc.settings, "root", lambda _n: PASSWORD, ["clients:admin"])
        yield server


def _live(authz: AuthServer, token: str) -> bool:
    with authz.client() as c:
        answer = c.get("/v1/auth/token/lookup-self", headers={"X-Vault-Token": token})
    assert answer.status_code in {200, 403}, answer.text
    return answer.status_code == 200


def _token(authz: AuthServer, client: Registered) -> str:
    answer = authz.client_token(client)
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def test_a_client_deleted_over_http_has_its_live_tokens_refused(authz: AuthServer) -> None:
    doomed = authz.register("doomed-http", "kv:read:secret/")
    other = authz.register("bystander-http", "kv:read:secret/")
    tokens = [_token(authz, doomed), _token(authz, doomed)]
    kept = _token(authz, other)
    assert all(_live(authz, t) for t in [*tokens, kept])
    with authz.client() as c:
        admin = login(c, "root").json()["access_token"]
        assert c.delete("/clients/doomed-http", headers=bearer(admin)).status_code == 204
    assert not any(_live(authz, t) for t in tokens)
    assert _live(authz, kept)


def test_a_client_deleted_by_the_command_line_has_its_live_tokens_refused(
    authz: AuthServer, cli
) -> None:
    doomed = authz.register("doomed-cli", "kv:read:secret/")
    other = authz.register("bystander-cli", "kv:read:secret/")
    token, kept = _token(authz, doomed), _token(authz, other)
    assert _live(authz, token) and _live(authz, kept)
    data = authz.svc.settings.data_dir
    result = cli(["clients", "delete", "doomed-cli", "--yes", "--data-dir", data])
    assert result.code == 0, result.stderr
    asyncio.run(asyncio.sleep(WATCH_INTERVAL))
    assert not _live(authz, token)
    assert _live(authz, kept)
    # The deleted client cannot get another token either.
    assert authz.client_token(doomed).status_code == 401
