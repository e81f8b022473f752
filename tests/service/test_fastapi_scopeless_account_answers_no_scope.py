"""An app of one's own whose accounts hold no scope (``AccountPolicy(default_scopes=())``):
the password and refresh grants answer no ``scope`` member (RFC 6749 §5.1 makes it
optional, §3.3 has no empty scope), the access token keeps its empty ``scope`` claim (what
relying parties read), and a route that requires a scope still refuses that token with 403
``insufficient_scope``. The OpenAPI document shows ``scope`` as an optional string, never
null. Served by plain uvicorn over real TLS on 127.0.0.1, on the app's own SQLite."""

# No `from __future__ import annotations`: the app's routes are closures FastAPI reads.

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx2
import jwt as pyjwt
import pytest
from fastapi import FastAPI

from sealbox.accounts import AccountPolicy, Caller
from tests.service._own_app import routers_app, served_over_tls
from tests.service.conftest import PASSWORD, bearer

ANSWER = {"access_token", "token_type", "expires_in", "refresh_token"}


def scopeless_app(database: Path) -> FastAPI:
    app, auth = routers_app(database, AccountPolicy(default_scopes=()))

    @app.get("/orders")
    async def orders(caller: Annotated[Caller, auth.require("orders:read")]) -> dict[str, Any]:
        return {"user": caller.username}

    return app


@pytest.fixture
def client(tmp_path: Path) -> Iterator[httpx2.Client]:
    with served_over_tls(scopeless_app(tmp_path / "app.db"), tmp_path) as c:
        yield c


def _claims(c: httpx2.Client, token: str) -> dict[str, Any]:
    """The token's claims as PyJWT reads them from the app's JWKS (another service would)."""
    jwks = c.get("/.well-known/jwks.json").json()
    key = pyjwt.PyJWKSet.from_dict(jwks)[pyjwt.get_unverified_header(token)["kid"]]
    claims: dict[str, Any] = pyjwt.decode(
        token, key, algorithms=["EdDSA"], audience="sealbox", issuer="sealbox"
    )
    return claims


def test_an_account_holding_no_scope_gets_token_answers_and_tokens_without_scope(
    client: httpx2.Client,
) -> None:
    r = client.post("/auth/register", json={"username": "lena", "password": PASSWORD})
    assert r.status_code == 201 and r.json()["scopes"] == [], r.text
    r = client.post("/auth/token", data={"username": "lena", "password": PASSWORD})
    assert r.status_code == 200, r.text
    login = r.json()
    assert set(login) == ANSWER, login
    assert _claims(client, login["access_token"])["scope"] == ""
    # Both ways of refreshing answer the same: no scope member, an empty scope claim.
    r = client.post(
        "/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": login["refresh_token"]},
    )
    assert r.status_code == 200, r.text
    assert set(r.json()) == ANSWER, r.json()
    r = client.post("/auth/refresh", json={"refresh_token": r.json()["refresh_token"]})
    assert r.status_code == 200, r.text
    refreshed = r.json()
    assert set(refreshed) == ANSWER, refreshed
    assert _claims(client, refreshed["access_token"])["scope"] == ""
    # The token names its holder, and grants nothing.
    me = client.get("/users/me", headers=bearer(refreshed["access_token"]))
    assert me.status_code == 200 and me.json()["scopes"] == [], me.text
    refused = client.get("/orders", headers=bearer(refreshed["access_token"]))
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in refused.headers["WWW-Authenticate"]


def test_the_openapi_document_shows_the_token_answers_scope_as_an_optional_string(
    client: httpx2.Client,
) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["TokenResponse"]
    assert "scope" not in schema["required"]
    assert schema["properties"]["scope"]["type"] == "string"
    assert "anyOf" not in schema["properties"]["scope"]  # never null
    assert set(schema["required"]) == {"access_token", "expires_in", "refresh_token"}
