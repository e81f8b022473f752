"""The auth routes' JSON bodies (``/auth/register``, ``/auth/refresh``, ``/auth/logout``,
``/auth/password``) refuse a member they do not know, as the admin bodies do: 422
``validation_error`` naming the member (never its value), and nothing done. A misspelt
member would otherwise be dropped and the rest acted on: ``{"new_pasword": …}`` is refused
anyway for the missing ``new_password``, but ``{"scopes": "a"}`` at ``/auth/refresh`` would
exchange the token for the full grant where a narrower one was meant.

The forms of the OAuth endpoints (``/auth/token``, ``/auth/revoke``, ``/auth/introspect``)
ignore a parameter they do not know, as RFC 6749 §3.1 and §3.2 require ("parameters sent
without a value MUST be treated as if they were omitted … The authorization server MUST
ignore unrecognized request parameters"). Real service over HTTPS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.service._oauth import AuthServer, Registered, auth_server
from tests.service.conftest import PASSWORD, bearer, login, register

CANARY = "canary-unknown-auth-member-3f9a"
NEW_PASSWORD = "canary-new-password-81c4"


@pytest.fixture(scope="module")
def authz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    with auth_server(tmp_path_factory.mktemp("auth-bodies")) as server:
        with server.client() as c:
            assert register(c, "mira").status_code == 201
            assert register(c, "orla").status_code == 201
        yield server


def _refused(r: Any, member: str) -> None:
    assert r.status_code == 422, r.text
    answer = r.json()
    assert answer["error"] == "validation_error"
    assert ["body", member] in [d["loc"] for d in answer["details"]], answer
    assert CANARY not in r.text


def test_register_with_an_unknown_member_is_refused_and_makes_no_account(
    authz: AuthServer,
) -> None:
    with authz.client() as c:
        r = c.post(
            "/auth/register",
            json={"username": "nell", "password": PASSWORD, "scopes": [CANARY]},
        )
        _refused(r, "scopes")
        assert login(c, "nell").status_code == 400  # no such account


def test_a_refresh_with_an_unknown_member_is_refused_and_the_token_still_works(
    authz: AuthServer,
) -> None:
    with authz.client() as c:
        tokens = login(c, "mira").json()
        r = c.post(
            "/auth/refresh",
            json={"refresh_token": tokens["refresh_token"], "scopes": "me:read", "x": CANARY},
        )
        _refused(r, "scopes")
        # Not spent: the refused request exchanged nothing.
        again = c.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert again.status_code == 200, again.text


def test_a_logout_with_an_unknown_member_is_refused_and_ends_nothing(authz: AuthServer) -> None:
    with authz.client() as c:
        tokens = login(c, "mira").json()
        auth = bearer(tokens["access_token"])
        r = c.post(
            "/auth/logout",
            json={"refresh_token": tokens["refresh_token"], "everywhere": CANARY},
            headers=auth,
        )
        _refused(r, "everywhere")
        assert c.get("/users/me", headers=auth).status_code == 200


def test_a_password_change_with_a_misspelt_member_is_refused_and_changes_nothing(
    authz: AuthServer,
) -> None:
    with authz.client() as c:
        auth = bearer(login(c, "orla").json()["access_token"])
        r = c.post(
            "/auth/password",
            json={
                "current_password": PASSWORD,
                "new_password": NEW_PASSWORD,
                "new_pasword": CANARY,
            },
            headers=auth,
        )
        _refused(r, "new_pasword")
        assert login(c, "orla").status_code == 200  # the old password still works
        assert c.get("/users/me", headers=auth).status_code == 200  # no session ended


def test_the_openapi_document_shows_the_auth_bodies_take_no_other_member(
    authz: AuthServer,
) -> None:
    with authz.client() as c:
        schemas = c.get("/openapi.json").json()["components"]["schemas"]
    for name in ("Credentials", "RefreshRequest", "PasswordChange"):
        assert schemas[name].get("additionalProperties") is False, (name, schemas[name])


@pytest.fixture(scope="module")
def worker(authz: AuthServer) -> Registered:
    return authz.register("unknown-params-worker")


def test_the_token_endpoint_ignores_an_unknown_form_parameter(
    authz: AuthServer, worker: Registered
) -> None:
    with authz.client() as c:
        login_answer = c.post(
            "/auth/token",
            data={"grant_type": "password", "username": "mira", "password": PASSWORD, "x": "1"},
        )
        client_answer = c.post(
            "/auth/token",
            data={"grant_type": "client_credentials", "resource": "https://api.example"},
            headers=worker.basic,
        )
    assert login_answer.status_code == 200, login_answer.text
    assert client_answer.status_code == 200, client_answer.text


def test_revocation_and_introspection_ignore_an_unknown_form_parameter(
    authz: AuthServer, worker: Registered
) -> None:
    token = authz.client_token(worker).json()["access_token"]
    with authz.client() as c:
        seen = c.post("/auth/introspect", data={"token": token, "extra": "1"}, headers=worker.basic)
        revoked = c.post("/auth/revoke", data={"token": token, "extra": "1"}, headers=worker.basic)
        after = c.post("/auth/introspect", data={"token": token}, headers=worker.basic)
    assert seen.status_code == 200 and seen.json()["active"] is True, seen.text
    assert revoked.status_code == 200, revoked.text
    assert after.json() == {"active": False}
