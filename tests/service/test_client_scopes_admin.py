"""Showing a machine client and granting or taking back its scopes, over HTTP and with
``sealbox clients`` beside the running service: a scope taken back is refused at once on
the routes that look at what a caller still holds, as an account's is."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sealbox.service.admin import create_user
from tests.service._oauth import AuthServer, Registered, auth_server
from tests.service.conftest import PASSWORD, bearer, login


@pytest.fixture(scope="module")
def authz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    with auth_server(tmp_path_factory.mktemp("client-scopes")) as server:
        create_user(
            server.svc.settings,
            "root",
            lambda _n: PASSWORD,
            ["clients:admin", "transit:admin", "kv:read:secret/app"],
        )
        yield server


def _admin(authz: AuthServer) -> dict[str, str]:
    with authz.client() as c:
        return bearer(login(c, "root").json()["access_token"])


def _token(authz: AuthServer, client: Registered, scope: str = "") -> str:
    answer = authz.client_token(client, scope)
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def _lists_clients(authz: AuthServer, token: str) -> int:
    with authz.client() as c:
        return c.get("/clients", headers=bearer(token)).status_code


def test_a_scope_the_command_line_takes_back_is_refused_at_once_to_the_clients_live_token(
    authz: AuthServer, cli
) -> None:
    robot = authz.register("robot-cli", "clients:admin", "users:me")
    token = _token(authz, robot)
    assert _lists_clients(authz, token) == 200
    data = authz.svc.settings.data_dir
    taken = cli(["clients", "revoke", "robot-cli", "clients:admin", "--data-dir", data])
    assert taken.code == 0, taken.stderr
    assert taken.out == "robot-cli holds users:me\n"
    with authz.client() as c:
        refused = c.get("/clients", headers=bearer(token))
    assert refused.status_code == 403
    assert refused.json()["message"] == "the client no longer holds the scope clients:admin"
    assert authz.client_token(robot, "clients:admin").json()["error"] == "invalid_scope"
    given = cli(["clients", "grant", "robot-cli", "clients:admin", "--data-dir", data])
    assert given.code == 0, given.stderr
    assert _lists_clients(authz, _token(authz, robot, "clients:admin")) == 200


def test_admins_show_grant_and_revoke_client_scopes_over_http(authz: AuthServer) -> None:
    worker = authz.register("worker-http", "users:me")
    admin = _admin(authz)
    with authz.client() as c:
        shown = c.get("/clients/worker-http", headers=admin)
        granted = c.post(
            "/clients/worker-http/scopes",
            json={"scopes": ["transit:admin", "kv:read:secret/app"]},
            headers=admin,
        )
        # A scope holding a "/", sent as it is.
        revoked = c.delete("/clients/worker-http/scopes/kv:read:secret/app", headers=admin)
        not_held = c.delete("/clients/worker-http/scopes/transit:encrypt:x", headers=admin)
    assert shown.status_code == 200, shown.text
    assert shown.json()["client_id"] == worker.client_id
    assert shown.json()["scopes"] == ["users:me"]
    assert worker.secret is not None
    assert '"client_secret":' not in shown.text and worker.secret not in shown.text
    assert granted.status_code == 200, granted.text
    assert granted.json()["scopes"] == ["kv:read:secret/app", "transit:admin", "users:me"]
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["scopes"] == ["transit:admin", "users:me"]
    assert not_held.json()["scopes"] == ["transit:admin", "users:me"]
    assert _token(authz, worker, "transit:admin")


def test_an_admin_grants_a_client_only_scopes_it_holds_itself(authz: AuthServer) -> None:
    authz.register("narrow-http", "users:me")
    admin = _admin(authz)
    with authz.client() as c:
        wider = c.post(
            "/clients/narrow-http/scopes", json={"scopes": ["users:admin"]}, headers=admin
        )
        unknown = c.post(
            "/clients/narrow-http/scopes", json={"scopes": ["transit:nonsense"]}, headers=admin
        )
        shown = c.get("/clients/narrow-http", headers=admin)
    # A clients:admin token granting users:admin to a client would be users:admin itself.
    assert wider.status_code == 403 and wider.json()["error"] == "insufficient_scope"
    assert unknown.status_code == 422 and unknown.json()["error"] == "validation_error"
    assert shown.json()["scopes"] == ["users:me"]


def test_an_admin_takes_a_scope_back_over_http_and_the_clients_live_token_loses_it_at_once(
    authz: AuthServer,
) -> None:
    robot = authz.register("robot-http", "clients:admin")
    token = _token(authz, robot)
    assert _lists_clients(authz, token) == 200
    with authz.client() as c:
        taken = c.delete("/clients/robot-http/scopes/clients:admin", headers=_admin(authz))
    assert taken.status_code == 200 and taken.json()["scopes"] == []
    assert _lists_clients(authz, token) == 403


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/clients/nobody", None),
        ("POST", "/clients/nobody/scopes", {"scopes": ["users:me"]}),
        ("DELETE", "/clients/nobody/scopes/users:me", None),
    ],
    ids=["show", "grant", "revoke"],
)
def test_an_unknown_client_is_404_client_not_found(
    authz: AuthServer, method: str, path: str, body: object
) -> None:
    with authz.client() as c:
        answer = c.request(method, path, json=body, headers=_admin(authz))
    assert answer.status_code == 404, answer.text
    assert answer.json()["error"] == "client_not_found"


def test_scope_changes_are_audited_with_the_admin_and_never_a_secret(
    authz: AuthServer, cli
) -> None:
    canary = authz.register("canary-http", "users:me")
    assert canary.secret is not None
    admin = _admin(authz)
    with authz.client() as c:
        assert (
            c.post(
                "/clients/canary-http/scopes", json={"scopes": ["transit:admin"]}, headers=admin
            ).status_code
            == 200
        )
        assert c.delete("/clients/canary-http/scopes/users:me", headers=admin).status_code == 200
    data = Path(authz.svc.settings.data_dir)
    assert cli(["clients", "show", "canary-http", "--data-dir", data]).code == 0
    audit = authz.svc.audit()
    assert '"event": "client_grant", "outcome": "success", "user": "root"' in audit
    assert '"detail": "canary-http; holds transit:admin users:me"' in audit
    assert '"detail": "canary-http; holds transit:admin"' in audit
    assert canary.secret not in audit
