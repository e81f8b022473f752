"""An account of ``sealbox serve`` whose only scope an administrator took back: its refresh
and its next login answer no ``scope`` member (RFC 6749 §3.3 has no empty scope), the
access token keeps an empty ``scope`` claim (as a client's holding none does), introspection
of it shows no ``scope``, and a route
requiring a scope refuses it with 403 ``insufficient_scope``. Real service over HTTPS,
on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sealbox.jwt import JWKSet, TokenVerifier
from sealbox.service.admin import create_user
from tests.service._oauth import AuthServer, auth_server
from tests.service.conftest import PASSWORD, bearer, login, register

ANSWER = {"access_token", "token_type", "expires_in", "refresh_token"}


@pytest.fixture
def authz(tmp_path: Path) -> Iterator[AuthServer]:
    with auth_server(tmp_path) as server:
        yield server


def test_an_account_whose_only_scope_was_revoked_gets_no_scope_anywhere(
    authz: AuthServer,
) -> None:
    create_user(authz.svc.settings, "root", lambda _name: PASSWORD, ["users:admin"])
    reader = authz.register("resource-server", "users:me", "tokens:introspect")
    bare = authz.client_token(authz.register("bare")).json()["access_token"]
    with authz.client() as c:
        assert register(c, "lena").status_code == 201
        first = login(c, "lena").json()
        assert first["scope"] == "users:me"
        admin = bearer(login(c, "root").json()["access_token"])
        taken = c.delete("/users/lena/scopes/users:me", headers=admin)
        assert taken.status_code == 200 and taken.json()["scopes"] == [], taken.text
        refreshed = c.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert refreshed.status_code == 200, refreshed.text
        assert set(refreshed.json()) == ANSWER, refreshed.json()
        r = login(c, "lena")
        assert r.status_code == 200, r.text
        tokens = r.json()
        assert set(tokens) == ANSWER, tokens
        jwks = c.get("/.well-known/jwks.json").json()
        seen = c.post(
            "/auth/introspect", data={"token": tokens["access_token"]}, headers=reader.basic
        )
        refused = c.get("/users", headers=bearer(tokens["access_token"]))
        me = c.get("/users/me", headers=bearer(tokens["access_token"]))
    verifier = TokenVerifier(JWKSet.from_dict(jwks), audience="sealbox", issuer="sealbox")
    # The tokens keep an empty claim (relying parties read it), a client's holding none too.
    for token in (refreshed.json()["access_token"], tokens["access_token"], bare):
        claims: dict[str, Any] = verifier.verify(token)
        assert claims["scope"] == "", claims
    assert seen.status_code == 200 and seen.json()["active"] is True, seen.text
    assert "scope" not in seen.json(), seen.json()
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == "insufficient_scope"
    assert me.status_code == 200 and me.json()["scopes"] == [], me.text
