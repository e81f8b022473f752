"""Introspection (RFC 7662 §2.2) of a refresh token answers the scope that token grants
now — what its next refresh would answer — not the scope its login was granted: a scope
an administrator has since taken from the account is out of both. Real service over HTTPS,
with a registered resource server introspecting as a real client would."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sealbox.service.admin import create_user
from tests.service._oauth import AuthServer, Registered, auth_server
from tests.service.conftest import PASSWORD, bearer, login


@pytest.fixture(scope="module")
def authz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    with auth_server(tmp_path_factory.mktemp("introspect-now")) as server:
        create_user(server.svc.settings, "root", lambda _n: PASSWORD, ["users:admin"])
        yield server


@pytest.fixture(scope="module")
def reader(authz: AuthServer) -> Registered:
    return authz.register("resource-server", "users:me", "tokens:introspect")


def _introspect(authz: AuthServer, reader: Registered, token: str) -> dict[str, object]:
    with authz.client() as c:
        answer = c.post("/auth/introspect", data={"token": token}, headers=reader.basic)
    assert answer.status_code == 200, answer.text
    result: dict[str, object] = answer.json()
    return result


def test_a_refresh_token_introspects_without_a_scope_taken_from_the_account(
    authz: AuthServer, reader: Registered
) -> None:
    create_user(authz.svc.settings, "bea", lambda _n: PASSWORD, ["orders:read"])
    with authz.client() as c:
        tokens = c.post(
            "/auth/token",
            data={
                "grant_type": "password",
                "username": "bea",
                "password": PASSWORD,
                "scope": "users:me orders:read",
            },
        ).json()
        assert set(tokens["scope"].split()) == {"users:me", "orders:read"}
        assert _introspect(authz, reader, tokens["refresh_token"])["active"] is True
        admin = bearer(login(c, "root").json()["access_token"])
        taken = c.delete("/users/bea/scopes/orders:read", headers=admin)
        assert taken.status_code == 200, taken.text
        seen = _introspect(authz, reader, tokens["refresh_token"])
        refreshed = c.post(
            "/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        )
    assert refreshed.status_code == 200, refreshed.text
    assert seen["active"] is True
    assert seen["scope"] == refreshed.json()["scope"] == "users:me"


def test_a_refresh_token_whose_account_holds_none_of_its_scopes_introspects_without_scope(
    authz: AuthServer, reader: Registered
) -> None:
    create_user(authz.svc.settings, "cid", lambda _n: PASSWORD, ["orders:read"])
    with authz.client() as c:
        tokens = c.post(
            "/auth/token",
            data={
                "grant_type": "password",
                "username": "cid",
                "password": PASSWORD,
                "scope": "orders:read",
            },
        ).json()
        assert tokens["scope"] == "orders:read"
        admin = bearer(login(c, "root").json()["access_token"])
        assert c.delete("/users/cid/scopes/orders:read", headers=admin).status_code == 200
        seen = _introspect(authz, reader, tokens["refresh_token"])
        refreshed = c.post(
            "/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        )
    # A refresh still works, granting nothing (no scope member, RFC 6749 §3.3), and the
    # introspection says the same: no scope member, never an empty one.
    assert refreshed.status_code == 200, refreshed.text
    assert "scope" not in refreshed.json()
    assert seen["active"] is True
    assert "scope" not in seen, seen
