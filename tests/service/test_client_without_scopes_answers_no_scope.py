"""A registered client holding no scope gets a token granting none: the token response
leaves ``scope`` out (RFC 6749 §5.1 makes it optional, and §3.3 has no empty scope), and
introspection of that token answers no ``scope`` either (RFC 7662 §2.2), never ``""``.
A client holding scopes still gets them named. Real service over HTTPS, on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service._oauth import AuthServer, auth_server


@pytest.fixture
def authz(tmp_path: Path) -> Iterator[AuthServer]:
    with auth_server(tmp_path) as server:
        yield server


def test_a_client_holding_no_scope_gets_a_token_answer_and_introspection_without_scope(
    authz: AuthServer,
) -> None:
    bare = authz.register("bare")
    reader = authz.register("resource-server", "users:me", "tokens:introspect")
    r = authz.client_token(bare)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert "scope" not in answer, answer
    assert answer["token_type"] == "bearer" and answer["access_token"]
    with authz.client() as c:
        seen = c.post(
            "/auth/introspect", data={"token": answer["access_token"]}, headers=reader.basic
        )
    assert seen.status_code == 200, seen.text
    assert seen.json()["active"] is True
    assert seen.json()["client_id"] == bare.client_id
    assert "scope" not in seen.json(), seen.json()
    # A client holding scopes is told them, in both answers.
    held = authz.client_token(reader).json()
    assert held["scope"] == "tokens:introspect users:me"
    with authz.client() as c:
        seen = c.post(
            "/auth/introspect", data={"token": held["access_token"]}, headers=reader.basic
        )
    assert seen.json()["scope"] == "tokens:introspect users:me"
