"""Refresh tokens bound to the client they were issued to (RFC 6749 §6, §10.4), over real
HTTPS on SQLite and on PostgreSQL with Redis: a family issued to one registered client is
refreshed by it alone, one issued without client authentication only without one; a
mismatch is the same ``invalid_grant`` as an unknown token and leaves the family alive.
Introspection and revocation name the client the family was issued to, deleting the
client ends its families, and a database made before migration 0009 keeps working."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import text

from sealbox.accounts import Accounts, make_engine, sessions
from sealbox.accounts.store import hash_refresh_token
from sealbox.passwords import PasswordHasher
from sealbox.service.admin import create_user
from sealbox.service.client_admin import create_client
from sealbox.service.db import MIGRATIONS
from tests._accounts import run_accounts
from tests.service._oauth import AuthServer, Registered, auth_server_on
from tests.service.conftest import (
    PASSWORD,
    bearer,
    make_settings,
    private_shared_state,
    register,
    run_service,
)

FIRST_PARTY = "sealbox-first-party"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def authz(request, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    """One server per backend for the module: each test uses names of its own."""
    with auth_server_on(
        request.param, tmp_path_factory.mktemp("client-binding"), "client_binding"
    ) as server:
        yield server


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _login(c: httpx2.Client, name: str, client: Registered | None = None) -> dict[str, Any]:
    register(c, name)
    form = {"grant_type": "password", "username": name, "password": PASSWORD}
    answer = c.post("/auth/token", data=form, headers=client.basic if client else None)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _refresh(c: httpx2.Client, token: str, client: Registered | None = None) -> httpx2.Response:
    form = {"grant_type": "refresh_token", "refresh_token": token}
    return c.post("/auth/token", data=form, headers=client.basic if client else None)


def _refused_as_unknown(answer: httpx2.Response, unknown: httpx2.Response) -> None:
    """The refusal says nothing an unknown token's does not: status, body, headers."""
    assert answer.status_code == 400, answer.text
    assert answer.json() == unknown.json()
    assert answer.json()["error"] == "invalid_grant"
    assert answer.json()["error_description"] == "the refresh token is not valid"
    assert sorted(h for h in answer.headers.multi_items() if h[0] != "date") == sorted(
        h for h in unknown.headers.multi_items() if h[0] != "date"
    )
    assert answer.headers["cache-control"] == unknown.headers["cache-control"] == "no-store"


def test_a_token_issued_to_one_client_is_refreshed_by_that_client_alone(authz) -> None:
    a = authz.register("binding-a", "users:me")
    b = authz.register("binding-b", "users:me")
    with authz.client() as c:
        issued = _login(c, "bound-alice", a)
        token = issued["refresh_token"]
        assert _claims(issued["access_token"])["client_id"] == a.client_id
        unknown = _refresh(c, "sbr_" + "A" * 43, b)
        by_b = _refresh(c, token, b)
        by_no_one = _refresh(c, token)
        by_first_party = c.post(
            "/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": token, "client_id": FIRST_PARTY},
        )
        # Basic with A's id and B's secret is no authentication as A.
        raw = f"{a.client_id}:{b.secret}".encode()
        forged = c.post(
            "/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": token},
            headers={"Authorization": "Basic " + base64.b64encode(raw).decode()},
        )
        # The JSON route takes no client authentication: a client's family is not its.
        by_json = c.post("/auth/refresh", json={"refresh_token": token})
        by_a = _refresh(c, token, a)
    for answer in (by_b, by_no_one, by_first_party):
        _refused_as_unknown(answer, unknown)
    assert forged.status_code == 401 and forged.json()["error"] == "invalid_client"
    assert by_json.status_code == 400 and by_json.json()["error"] == "invalid_grant"
    # None of the refusals used the token up or revoked its family.
    assert by_a.status_code == 200, by_a.text
    fresh = by_a.json()
    assert _claims(fresh["access_token"])["client_id"] == a.client_id
    assert _claims(fresh["access_token"])["sid"] == _claims(issued["access_token"])["sid"]
    # The rotated token is still A's.
    with authz.client() as c:
        _refused_as_unknown(_refresh(c, fresh["refresh_token"], b), unknown)
        _refused_as_unknown(_refresh(c, fresh["refresh_token"]), unknown)
        again = _refresh(c, fresh["refresh_token"], a)
        assert again.status_code == 200, again.text
        assert c.get("/users/me", headers=bearer(again.json()["access_token"])).status_code == 200
    # Each mismatch is in the audit log, without a token.
    lines = [json.loads(x) for x in authz.svc.audit().splitlines()]
    mismatches = [x for x in lines if x["event"] == "refresh" and x["outcome"] == "wrong_client"]
    details = {x["detail"] for x in mismatches if x["user"] == "bound-alice"}
    assert f"issued to {a.client_id}, presented by {b.client_id}" in details
    assert f"issued to {a.client_id}, presented by no client" in details
    assert f"issued to {a.client_id}, presented by {FIRST_PARTY}" not in details
    assert all(token not in json.dumps(x) for x in mismatches)


def test_a_token_issued_without_a_client_is_refused_to_a_client(authz) -> None:
    a = authz.register("binding-public-a", "users:me")
    with authz.client() as c:
        issued = _login(c, "public-bob")
        token = issued["refresh_token"]
        assert _claims(issued["access_token"])["client_id"] == FIRST_PARTY
        unknown = _refresh(c, "sbr_" + "B" * 43)
        by_a = _refresh(c, token, a)
        _refused_as_unknown(by_a, unknown)
        # Still live: redeemed without client authentication, as it was issued.
        public = _refresh(c, token)
        assert public.status_code == 200, public.text
        assert _claims(public.json()["access_token"])["client_id"] == FIRST_PARTY
        # And by the JSON route, which authenticates no client either.
        json_route = c.post("/auth/refresh", json={"refresh_token": public.json()["refresh_token"]})
        assert json_route.status_code == 200, json_route.text


def test_a_used_token_presented_by_another_client_does_not_revoke_the_family(authz) -> None:
    a = authz.register("binding-reuse-a", "users:me")
    b = authz.register("binding-reuse-b", "users:me")
    with authz.client() as c:
        first = _login(c, "reuse-carol", a)["refresh_token"]
        second = _refresh(c, first, a)
        assert second.status_code == 200, second.text
        # Someone without A's credentials holding the used token cannot end the session...
        assert _refresh(c, first, b).status_code == 400
        assert _refresh(c, first).status_code == 400
        third = _refresh(c, second.json()["refresh_token"], a)
        assert third.status_code == 200, third.text
        # ...while A presenting a used token is reuse, as before: the family ends.
        assert _refresh(c, first, a).status_code == 400
        assert _refresh(c, third.json()["refresh_token"], a).status_code == 400
        me = c.get("/users/me", headers=bearer(third.json()["access_token"]))
        assert me.status_code == 401


def test_introspection_names_the_client_a_refresh_token_was_issued_to(authz) -> None:
    a = authz.register("binding-intro-a", "users:me")
    rs = authz.register("binding-intro-rs", "users:me", "tokens:introspect")
    with authz.client() as c:
        bound = _login(c, "intro-dave", a)
        public = _login(c, "intro-erin")
        answers = {
            name: c.post("/auth/introspect", data={"token": token}, headers=rs.basic).json()
            for name, token in (
                ("bound_refresh", bound["refresh_token"]),
                ("bound_access", bound["access_token"]),
                ("public_refresh", public["refresh_token"]),
                ("public_access", public["access_token"]),
            )
        }
    assert all(x["active"] is True for x in answers.values()), answers
    assert answers["bound_refresh"]["client_id"] == a.client_id
    assert answers["bound_access"]["client_id"] == a.client_id
    assert answers["public_refresh"]["client_id"] == FIRST_PARTY
    assert answers["public_access"]["client_id"] == FIRST_PARTY


def test_only_the_client_a_refresh_token_was_issued_to_revokes_it(authz) -> None:
    a = authz.register("binding-revoke-a", "users:me")
    b = authz.register("binding-revoke-b", "users:me")
    with authz.client() as c:
        issued = _login(c, "revoke-frank", a)
        token = issued["refresh_token"]
        by_b = c.post("/auth/revoke", data={"token": token}, headers=b.basic)
        by_public = c.post("/auth/revoke", data={"token": token, "client_id": FIRST_PARTY})
        assert _refresh(c, token, a).status_code == 200  # neither revoked anything
        public = _login(c, "revoke-gina")
        by_a_public = c.post(
            "/auth/revoke", data={"token": public["refresh_token"]}, headers=a.basic
        )
        own = _login(c, "revoke-hank", a)
        by_a = c.post("/auth/revoke", data={"token": own["refresh_token"]}, headers=a.basic)
        after = _refresh(c, own["refresh_token"], a)
        me = c.get("/users/me", headers=bearer(own["access_token"]))
    for refused in (by_b, by_public, by_a_public):
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"] == "unauthorized_client"
    assert by_a.status_code == 200, by_a.text
    assert after.status_code == 400 and after.json()["error"] == "invalid_grant"
    assert me.status_code == 401


def test_deleting_a_client_ends_the_sessions_issued_to_it(authz) -> None:
    doomed = authz.register("binding-doomed", "users:me")
    other = authz.register("binding-kept", "users:me")
    create_user(authz.svc.settings, "root-binding-admin", lambda _n: PASSWORD, ["clients:admin"])
    with authz.client() as c:
        gone = _login(c, "doomed-ivy", doomed)
        kept = _login(c, "kept-jack", other)
        public = _login(c, "kept-kim")
        admin = c.post(
            "/auth/token", data={"username": "root-binding-admin", "password": PASSWORD}
        ).json()["access_token"]
        assert c.delete("/clients/binding-doomed", headers=bearer(admin)).status_code == 204
        assert c.get("/users/me", headers=bearer(gone["access_token"])).status_code == 401
        for token, client in ((kept, other), (public, None)):
            assert c.get("/users/me", headers=bearer(token["access_token"])).status_code == 200
            assert _refresh(c, token["refresh_token"], client).status_code == 200
        rs = authz.register("binding-doomed-rs", "users:me", "tokens:introspect")
        answer = c.post("/auth/introspect", data={"token": gone["refresh_token"]}, headers=rs.basic)
    assert answer.json() == {"active": False}


@pytest.mark.parametrize("action", ["disable", "rotate-secret"])
def test_disabling_a_client_or_ending_its_tokens_ends_the_sessions_issued_to_it(
    authz, action: str
) -> None:
    client = authz.register(f"binding-{action}", "users:me")
    other = authz.register(f"binding-{action}-kept", "users:me")
    admin_name = f"root-binding-{action}"
    create_user(authz.svc.settings, admin_name, lambda _n: PASSWORD, ["clients:admin"])
    with authz.client() as c:
        ended = _login(c, f"{action}-lena", client)
        kept = _login(c, f"{action}-kept-max", other)
        admin = c.post("/auth/token", data={"username": admin_name, "password": PASSWORD})
        headers = bearer(admin.json()["access_token"])
        if action == "disable":
            answer = c.post(f"/clients/binding-{action}/disable", headers=headers)
            assert answer.status_code == 200, answer.text
            assert c.post(f"/clients/binding-{action}/enable", headers=headers).status_code == 200
            basic = client.basic
        else:
            body = {"revoke_tokens": True}
            answer = c.post(f"/clients/binding-{action}/rotate-secret", json=body, headers=headers)
            assert answer.status_code == 200, answer.text
            secret = answer.json()["client_secret"]
            raw = f"{client.client_id}:{secret}".encode()
            basic = {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        # The user's access token through it is refused at once, and its family is over,
        # even for the client once it may authenticate again.
        assert c.get("/users/me", headers=bearer(ended["access_token"])).status_code == 401
        form = {"grant_type": "refresh_token", "refresh_token": ended["refresh_token"]}
        assert c.post("/auth/token", data=form, headers=basic).status_code == 400
        # Another client's sessions go on.
        assert c.get("/users/me", headers=bearer(kept["access_token"])).status_code == 200
        assert _refresh(c, kept["refresh_token"], other).status_code == 200


def _on_accounts(tmp_path: Path, scenario: Any) -> None:
    run_accounts(tmp_path, scenario)


def test_the_session_functions_bind_a_family_to_the_client_given(tmp_path: Path) -> None:
    # The same rules for code that calls sealbox.accounts.sessions without the routes.
    async def scenario(accounts: Accounts) -> None:
        user = await sessions.register(accounts, "library-mia", PASSWORD, "192.0.2.7")
        issued = await sessions.start_session(accounts, user, client_id="sbc_lib_a")
        caller = await accounts.authenticate(issued.access_token)
        assert caller.claims["client_id"] == "sbc_lib_a" and caller.client_id is None
        for other in (None, "sbc_lib_b", "sbc_lib_a\u0000", "SBC_LIB_A"):
            with pytest.raises(sessions.LoginFailed):
                await sessions.refresh(accounts, issued.refresh_token, "192.0.2.7", client_id=other)
        fresh = await sessions.refresh(
            accounts, issued.refresh_token, "192.0.2.7", client_id="sbc_lib_a"
        )
        assert (await accounts.authenticate(fresh.access_token)).claims["client_id"] == "sbc_lib_a"
        public = await sessions.login(accounts, "library-mia", PASSWORD, "192.0.2.7", [])
        with pytest.raises(sessions.LoginFailed):
            await sessions.refresh(
                accounts, public.refresh_token, "192.0.2.7", client_id="sbc_lib_a"
            )
        await sessions.refresh(accounts, public.refresh_token, "192.0.2.7")

    _on_accounts(tmp_path, scenario)


# -- a data folder made before migration 0009 ----------------------------------------------

OLD_TOKEN = "sbr_" + "o" * 43


def _database_at_0008(url: str) -> None:
    """A database migrated to 0008 holding one account and one live refresh token of it."""
    from alembic import command
    from alembic.config import Config

    password_hash = PasswordHasher("test").hash(PASSWORD)

    def upgrade(connection: Any) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, "0008")
        connection.execute(
            text(
                "INSERT INTO users (username, password_hash, scopes, created_at, "
                "session_version, disabled) "
                "VALUES ('old-liam', :h, '[\"users:me\"]', '2026-01-01', 0, false)"
            ),
            {"h": password_hash},
        )
        connection.execute(
            text(
                "INSERT INTO refresh_tokens (token_hash, family_id, user_id, created_at, "
                # Begun now: a family begun long ago has outlived its absolute lifetime.
                "expires_at, scope) SELECT :t, 'old-family', id, CURRENT_TIMESTAMP, "
                "'2999-01-01', 'users:me' FROM users WHERE username = 'old-liam'"
            ),
            {"t": hash_refresh_token(OLD_TOKEN)},
        )

    async def run() -> None:
        engine = make_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(upgrade)
        await engine.dispose()

    asyncio.run(run())


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_refresh_tokens_made_before_the_migration_count_as_issued_without_a_client(
    tmp_path: Path, backend: str
) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    shared_state = (
        private_shared_state("pre_0009") if backend == "postgres" else contextlib.nullcontext({})
    )
    with shared_state as shared:
        url = shared.get("database_url") or f"sqlite+aiosqlite:///{data / 'sealbox.db'}"
        _database_at_0008(url)
        if backend == "sqlite":
            (data / "sealbox.db").chmod(0o600)
        with run_service(make_settings(data, **shared)) as svc, svc.client() as c:
            made = create_client(svc.settings, "binding-after-upgrade", ["users:me"])
            assert made.secret is not None
            client = Registered(
                made.client.name, made.client.client_id, made.secret.expose_secret()
            )
            by_client = _refresh(c, OLD_TOKEN, client)
            assert by_client.status_code == 400, by_client.text
            assert by_client.json()["error"] == "invalid_grant"
            public = _refresh(c, OLD_TOKEN)
            assert public.status_code == 200, public.text
            claims = _claims(public.json()["access_token"])
            assert claims["sub"] == "old-liam" and claims["sid"] == "old-family"
            assert claims["client_id"] == FIRST_PARTY
            again = _refresh(c, public.json()["refresh_token"])
            assert again.status_code == 200, again.text
