"""Revocation tells nothing of a refresh token's life to a client it was not issued to:
another client's token is refused the same way, live or ended (RFC 7009 §2.1, §2.2)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.service._oauth import AuthServer, Registered, auth_server
from tests.service.conftest import PASSWORD, register

PUBLIC = {"client_id": "sealbox-first-party"}


@pytest.fixture
def authz(tmp_path: Path) -> Iterator[AuthServer]:
    with auth_server(tmp_path) as server:
        yield server


def _login_through(authz: AuthServer, client: Registered, name: str) -> dict[str, Any]:
    with authz.client() as c:
        register(c, name)
        answer = c.post(
            "/auth/token",
            data={"grant_type": "password", "username": name, "password": PASSWORD},
            headers=client.basic,
        )
    assert answer.status_code == 200, answer.text
    return answer.json()


def _revoke(
    authz: AuthServer, token: str, headers: dict[str, str] | None = None, **form: str
) -> Any:
    with authz.client() as c:
        return c.post("/auth/revoke", data={"token": token, **form}, headers=headers or {})


def test_the_public_client_gets_one_answer_for_a_clients_live_and_ended_refresh_token(
    authz: AuthServer,
) -> None:
    app = authz.register("webapp", "users:me")
    live = _login_through(authz, app, "alice")["refresh_token"]
    ended = _login_through(authz, app, "bob")["refresh_token"]
    assert _revoke(authz, ended, app.basic).status_code == 200  # its own client ends it

    answers = [_revoke(authz, token, **PUBLIC) for token in (live, ended)]
    assert [a.status_code for a in answers] == [400, 400]
    assert answers[0].json() == answers[1].json()
    assert answers[0].json()["error"] == "unauthorized_client"


def test_a_refused_revocation_still_revokes_nothing(authz: AuthServer) -> None:
    app = authz.register("webapp", "users:me")
    tokens = _login_through(authz, app, "carol")
    assert _revoke(authz, tokens["refresh_token"], **PUBLIC).status_code == 400
    with authz.client() as c:
        refreshed = c.post(
            "/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            headers=app.basic,
        )
    assert refreshed.status_code == 200, refreshed.text


def test_an_unknown_token_is_still_200_for_any_client(authz: AuthServer) -> None:
    app = authz.register("webapp", "users:me")
    assert _revoke(authz, "sbr_" + "A" * 43, **PUBLIC).status_code == 200
    assert _revoke(authz, "sbr_" + "A" * 43, app.basic).status_code == 200
