"""Disabling and enabling a machine client, and rotating its secret with the tokens issued
before ended, over HTTP and with ``sealbox clients`` beside the running service (one
worker, no Redis: through the data folder's changes file): the live tokens are refused at
once, and the tokens issued after pass."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from sealbox.accounts.revocation import WATCH_INTERVAL
from sealbox.service.admin import create_user
from tests.service._oauth import AuthServer, Registered, access_token, auth_server, live
from tests.service.conftest import PASSWORD, bearer, login


@pytest.fixture(scope="module")
def authz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    with auth_server(tmp_path_factory.mktemp("clients-disable")) as server:
        create_user(server.svc.settings, "root", lambda _n: PASSWORD, ["clients:admin"])
        yield server


def _admin(authz: AuthServer) -> dict[str, str]:
    with authz.client() as c:
        return bearer(login(c, "root").json()["access_token"])


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def _audit(authz: AuthServer, event: str) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in authz.svc.audit().splitlines() if line.strip()]
    return [r for r in records if r["event"] == event]


def test_a_client_disabled_over_http_is_refused_at_once_and_works_again_once_enabled(
    authz: AuthServer,
) -> None:
    robot = authz.register("robot-http", "users:me")
    other = authz.register("bystander-http", "users:me")
    tokens, kept = (
        [access_token(authz, robot), access_token(authz, robot)],
        access_token(authz, other),
    )
    assert all(live(authz, t) for t in [*tokens, kept])
    admin = _admin(authz)
    with authz.client() as c:
        disabled = c.post("/clients/robot-http/disable", headers=admin)
        shown = c.get("/clients/robot-http", headers=admin)
        listed = c.get("/clients", headers=admin).json()["clients"]
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["disabled"] is True
    assert shown.json()["disabled"] is True
    assert {c["name"]: c["disabled"] for c in listed}["bystander-http"] is False
    assert not any(live(authz, t) for t in tokens)
    assert live(authz, kept)
    refused = authz.client_token(robot)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"
    with authz.client() as c:
        enabled = c.post("/clients/robot-http/enable", headers=admin)
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["disabled"] is False
    fresh = access_token(authz, robot)
    assert live(authz, fresh)
    assert not any(live(authz, t) for t in tokens)  # the tokens ended stay refused
    assert _audit(authz, "client_disable")[-1]["detail"] == "robot-http; tokens ended"
    assert _audit(authz, "client_enable")[-1]["detail"] == "robot-http"
    failed = [r for r in _audit(authz, "client_auth") if r["user"] == robot.client_id]
    assert failed and failed[-1]["outcome"] == "failure"
    assert failed[-1]["detail"] == "client_disabled"  # its right secret, refused: why
    assert robot.secret is not None and robot.secret not in authz.svc.audit()


def test_a_client_disabled_by_the_command_line_is_refused_at_once(authz: AuthServer, cli) -> None:
    robot = authz.register("robot-cli", "users:me")
    token = access_token(authz, robot)
    assert live(authz, token)
    data = authz.svc.settings.data_dir
    done = cli(["clients", "disable", "robot-cli", "--data-dir", data])
    assert done.code == 0, done.stderr
    assert done.out == ""
    assert done.stderr == (
        f"disabled client robot-cli ({robot.client_id}); its access tokens are refused\n"
    )
    asyncio.run(asyncio.sleep(WATCH_INTERVAL))
    assert not live(authz, token)
    assert authz.client_token(robot).status_code == 401
    listed = cli(["clients", "list", "--data-dir", data]).out.splitlines()
    assert [line.split("\t")[-1] for line in listed if line.startswith("robot-cli\t")] == [
        "disabled"
    ]
    shown = cli(["clients", "show", "robot-cli", "--data-dir", data])
    assert "disabled:" in shown.out and "yes" in shown.out.split("disabled:")[1].splitlines()[0]
    again = cli(["clients", "enable", "robot-cli", "--data-dir", data])
    assert again.code == 0, again.stderr
    assert again.stderr == f"enabled client robot-cli ({robot.client_id})\n"
    assert live(authz, access_token(authz, robot))
    assert not live(authz, token)


def test_rotating_a_secret_with_revoke_tokens_over_http_ends_the_old_tokens_only(
    authz: AuthServer,
) -> None:
    robot = authz.register("rotated-http", "users:me")
    old = access_token(authz, robot)
    with authz.client() as c:
        rotated = c.post(
            "/clients/rotated-http/rotate-secret",
            json={"revoke_tokens": True},
            headers=_admin(authz),
        )
    assert rotated.status_code == 200, rotated.text
    assert not live(authz, old)
    new = Registered(robot.name, robot.client_id, rotated.json()["client_secret"])
    assert live(authz, access_token(authz, new))
    assert authz.client_token(robot).status_code == 401  # no overlap: the old secret ended
    assert _audit(authz, "client_rotate")[-1]["detail"] == "rotated-http; tokens ended"


def test_rotating_a_secret_without_revoke_tokens_keeps_the_old_tokens(authz: AuthServer) -> None:
    robot = authz.register("rotated-plain", "users:me")
    old = access_token(authz, robot)
    with authz.client() as c:
        rotated = c.post("/clients/rotated-plain/rotate-secret", headers=_admin(authz))
    assert rotated.status_code == 200, rotated.text
    assert live(authz, old)


def test_rotating_a_secret_with_revoke_tokens_by_the_command_line_ends_the_old_tokens(
    authz: AuthServer, cli
) -> None:
    robot = authz.register("rotated-cli", "users:me")
    old = access_token(authz, robot)
    data = authz.svc.settings.data_dir
    r = cli(
        ["clients", "rotate-secret", "rotated-cli", "--revoke-tokens", "--json", "--data-dir", data]
    )
    assert r.code == 0, r.stderr
    assert "the access tokens issued before are refused" in r.stderr
    asyncio.run(asyncio.sleep(WATCH_INTERVAL))
    assert not live(authz, old)
    new = Registered(robot.name, robot.client_id, json.loads(r.out)["client_secret"])
    fresh = access_token(authz, new)
    assert live(authz, fresh)
    # The new tokens name the client's new session version; the old named none.
    assert _claims(old)["sid"] == f"client:{robot.client_id}"
    assert _claims(fresh)["sid"] == f"client:{robot.client_id}:1"


def test_a_token_naming_no_version_keeps_working_until_the_clients_tokens_are_ended(
    authz: AuthServer,
) -> None:
    # A client never ended is at version 0, whose tokens name the family as every token
    # issued before clients had versions does: such a token passes, until an ending.
    robot = authz.register("unversioned", "users:me")
    token = access_token(authz, robot)
    assert _claims(token)["sid"] == f"client:{robot.client_id}"
    admin = _admin(authz)
    with authz.client() as c:
        assert c.post("/clients/unversioned/enable", headers=admin).status_code == 200
        assert live(authz, token)  # enabling ends nothing
        assert c.post("/clients/unversioned/disable", headers=admin).status_code == 200
    assert not live(authz, token)


def test_a_client_deleted_after_its_tokens_were_ended_has_its_new_tokens_refused(
    authz: AuthServer,
) -> None:
    robot = authz.register("ended-then-deleted", "users:me")
    admin = _admin(authz)
    with authz.client() as c:
        rotated = c.post(
            "/clients/ended-then-deleted/rotate-secret", json={"revoke_tokens": True}, headers=admin
        )
        new = Registered(robot.name, robot.client_id, rotated.json()["client_secret"])
        token = access_token(authz, new)
        assert live(authz, token)
        assert c.delete("/clients/ended-then-deleted", headers=admin).status_code == 204
    assert not live(authz, token)


def test_an_unknown_client_is_one_clear_error(authz: AuthServer, cli) -> None:
    admin = _admin(authz)
    with authz.client() as c:
        answers = [
            c.post("/clients/nobody/disable", headers=admin),
            c.post("/clients/nobody/enable", headers=admin),
            c.post("/clients/nobody/rotate-secret", json={"revoke_tokens": True}, headers=admin),
        ]
    for answer in answers:
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"] == "client_not_found"
    data = authz.svc.settings.data_dir
    for args in (["disable"], ["enable"], ["rotate-secret", "--revoke-tokens"]):
        r = cli(["clients", args[0], "nobody", *args[1:], "--data-dir", data])
        assert r.code == 1
        assert r.out == ""
        assert r.stderr == (
            "sealbox: error: there is no client named 'nobody'\n"
            "sealbox: hint: list the clients with 'sealbox clients list'\n"
        )


def test_disabling_needs_the_clients_admin_scope(authz: AuthServer) -> None:
    robot = authz.register("not-admin", "users:me")
    with authz.client() as c:
        answer = c.post("/clients/not-admin/disable", headers=bearer(access_token(authz, robot)))
    assert answer.status_code == 403
    assert live(authz, access_token(authz, robot))
