"""An account (or a client) whose stored scopes hold values that are not scopes under RFC
6749 §3.3's grammar as sealbox checks it — a row written directly into the database, or
by an older version: a space inside, empty, longer than 128 characters, not a string, or
the whole list replaced by something else. Such a value can never be carried in a token
(a space would even split into other scopes), so sealbox reads the account as holding only
its valid scopes: the login works and its token carries those, a warning names the account
(never a value), and the administrators' views show the account. Real service over HTTPS,
the real CLI, and an app of one's own on the FastAPI integration."""

# No `from __future__ import annotations`: the app's routes are closures FastAPI reads.

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import jwt as pyjwt
import pytest
from sqlalchemy import text

from sealbox.service.admin import create_user
from sealbox.service.db import make_engine as service_engine
from sealbox.service.settings import ServiceSettings
from tests.service._oauth import AuthServer, auth_server
from tests.service._own_app import routers_app, served_over_tls
from tests.service.conftest import PASSWORD, Running, bearer, login, register

# What a directly written row may hold: a space inside (it would split into two scopes),
# an empty one, one too long, one that is no string, and a scope held twice.
NOT_SCOPES: list[Any] = ["users:me", "orders:read users:admin", "", "x" * 200, 5, None, "users:me"]


async def _write_scopes(url: str, table: str, column: str, name: str, stored: Any) -> None:
    """Put ``stored`` (any JSON value) in the row's scopes, bypassing sealbox's checks."""
    engine = service_engine(url)
    try:
        async with engine.begin() as connection:
            value = "CAST(:stored AS JSON)" if engine.dialect.name == "postgresql" else ":stored"
            await connection.execute(
                text(f"UPDATE {table} SET scopes = {value} WHERE {column} = :name"),
                {"stored": json.dumps(stored), "name": name},
            )
    finally:
        await engine.dispose()


def write_scopes(
    settings: ServiceSettings, name: str, stored: Any, *, client: bool = False
) -> None:
    table, column = ("oauth_clients", "name") if client else ("users", "username")
    asyncio.run(_write_scopes(settings.resolved_database_url(), table, column, name, stored))


def _claims(c: httpx2.Client, token: str) -> dict[str, Any]:
    jwks = c.get("/.well-known/jwks.json").json()
    key = pyjwt.PyJWKSet.from_dict(jwks)[pyjwt.get_unverified_header(token)["kid"]]
    claims: dict[str, Any] = pyjwt.decode(
        token, key, algorithms=["EdDSA"], audience="sealbox", issuer="sealbox"
    )
    return claims


def test_a_login_keeps_only_the_valid_scopes_and_the_admin_views_show_the_account(
    service: Running, caplog: pytest.LogCaptureFixture
) -> None:
    create_user(service.settings, "root", lambda _name: PASSWORD, ["users:admin"])
    with service.client() as c:
        assert register(c, "lena").status_code == 201
        write_scopes(service.settings, "lena", NOT_SCOPES)
        with caplog.at_level(logging.WARNING, logger="sealbox.accounts"):
            r = login(c, "lena")
        assert r.status_code == 200, r.text
        tokens = r.json()
        assert tokens["scope"] == "users:me"
        assert _claims(c, tokens["access_token"])["scope"] == "users:me"
        me = c.get("/users/me", headers=bearer(tokens["access_token"]))
        assert me.status_code == 200 and me.json()["scopes"] == ["users:me"], me.text
        refreshed = c.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 200 and refreshed.json()["scope"] == "users:me"
        admin = bearer(login(c, "root").json()["access_token"])
        shown = c.get("/users/lena", headers=admin)
        listed = c.get("/users", headers=admin)
        # Any change of its scopes writes back the valid ones only.
        granted = c.post("/users/lena/scopes", json={"scopes": ["orders:read"]}, headers=admin)
    assert shown.status_code == 200 and shown.json()["scopes"] == ["users:me"], shown.text
    assert listed.status_code == 200, listed.text
    assert [a["scopes"] for a in listed.json() if a["username"] == "lena"] == [["users:me"]]
    assert granted.status_code == 200, granted.text
    assert granted.json()["scopes"] == ["orders:read", "users:me"]
    warnings = [rec.getMessage() for rec in caplog.records if "lena" in rec.getMessage()]
    assert len(warnings) == 1, caplog.text
    assert "left out 5 stored values that are no scope" in warnings[0]
    assert "orders:read users:admin" not in caplog.text and "xxxx" not in caplog.text
    record = [
        json.loads(line)
        for line in service.audit().splitlines()
        if '"login"' in line and '"lena"' in line
    ]
    assert record[0]["outcome"] == "success"
    assert record[0]["detail"] == "left out 5 stored values that are no scope"


@pytest.mark.parametrize("stored", ["users:me", None, {"users:me": True}, 7])
def test_stored_scopes_that_are_no_list_hold_no_scope(tmp_path: Path, stored: Any) -> None:
    with auth_server(tmp_path) as authz:
        create_user(authz.svc.settings, "root", lambda _name: PASSWORD, ["users:admin"])
        with authz.client() as c:
            assert register(c, "lena").status_code == 201
            write_scopes(authz.svc.settings, "lena", stored)
            r = login(c, "lena")
            assert r.status_code == 200, r.text
            assert "scope" not in r.json()  # it holds none: RFC 6749 §3.3 has no empty scope
            admin = bearer(login(c, "root").json()["access_token"])
            shown = c.get("/users/lena", headers=admin)
    assert shown.status_code == 200 and shown.json()["scopes"] == [], shown.text


def test_the_cli_shows_and_lists_such_an_account(cli, tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"SEALBOX_PASSWORD_PROFILE": "test"}
    made = cli(["users", "create", "lena", "--data-dir", data], input=PASSWORD.encode(), env=env)
    assert made.code == 0, made.stderr
    settings = ServiceSettings(_env_file=None, data_dir=data)
    write_scopes(settings, "lena", NOT_SCOPES)
    shown = cli(["users", "show", "lena", "--json", "--data-dir", data], env=env)
    assert shown.code == 0, shown.stderr
    assert json.loads(shown.out)["scopes"] == ["users:me"]
    listed = cli(["users", "list", "--data-dir", data], env=env)
    assert listed.code == 0, listed.stderr
    assert "lena" in listed.out
    write_scopes(settings, "lena", None)
    shown = cli(["users", "show", "lena", "--data-dir", data], env=env)
    assert shown.code == 0, shown.stderr


@pytest.fixture
def authz(tmp_path: Path) -> Iterator[AuthServer]:
    with auth_server(tmp_path) as server:
        yield server


def test_a_client_whose_stored_scopes_hold_values_that_are_not_scopes_gets_its_valid_ones(
    authz: AuthServer, cli
) -> None:
    reporter = authz.register("reporter", "users:me")
    write_scopes(authz.svc.settings, "reporter", ["users:me", "a b", ""], client=True)
    r = authz.client_token(reporter)
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "users:me"
    data = authz.svc.settings.data_dir
    shown = cli(["clients", "show", "reporter", "--json", "--data-dir", data])
    assert shown.code == 0, shown.stderr
    assert json.loads(shown.out)["scopes"] == ["users:me"]
    write_scopes(authz.svc.settings, "reporter", None, client=True)
    listed = cli(["clients", "list", "--data-dir", data])
    assert listed.code == 0, listed.stderr


def test_the_fastapi_integration_logs_such_an_account_in_with_its_valid_scopes(
    tmp_path: Path,
) -> None:
    database = tmp_path / "app.db"
    with served_over_tls(routers_app(database)[0], tmp_path) as c:
        r = c.post("/auth/register", json={"username": "lena", "password": PASSWORD})
        assert r.status_code == 201, r.text
        asyncio.run(
            _write_scopes(
                f"sqlite+aiosqlite:///{database}", "users", "username", "lena", NOT_SCOPES
            )
        )
        r = c.post("/auth/token", data={"username": "lena", "password": PASSWORD})
        assert r.status_code == 200, r.text
        assert r.json()["scope"] == "users:me"
        assert _claims(c, r.json()["access_token"])["scope"] == "users:me"
        me = c.get("/users/me", headers=bearer(r.json()["access_token"]))
    assert me.status_code == 200 and me.json()["scopes"] == ["users:me"], me.text
