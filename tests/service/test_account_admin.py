"""``/users`` for administrators over real HTTPS, on SQLite and on PostgreSQL with Redis."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging

import httpx2
import pytest

from sealbox.accounts.store import Store
from sealbox.service.admin import create_user
from sealbox.service.db import make_engine, sessionmaker
from sealbox.service.settings import ServiceSettings
from tests.conftest import require_module
from tests.service.conftest import PASSWORD, Running, bearer, login, register
from tests.unit.test_passwords_passlib import passlib_pbkdf2

NEW_PASSWORD = "canary-new-password-91c3"


def _admin_token(service: Running, c: httpx2.Client) -> dict[str, str]:
    create_user(service.settings, "root", lambda _name: PASSWORD, ["users:admin"])
    r = login(c, "root")
    assert r.status_code == 200, r.text
    return bearer(r.json()["access_token"])


def stored_hash(settings: ServiceSettings, name: str) -> str:
    """The password hash the database holds for ``name`` (the API never shows it)."""

    async def read() -> str:
        engine = make_engine(settings.resolved_database_url())
        try:
            user = await Store(sessionmaker(engine), refresh_ttl=60).user_by_name(name)
            assert user is not None
            return user.password_hash
        finally:
            await engine.dispose()

    return asyncio.run(read())


def django_pbkdf2(password: str, salt: str = "Zq8dQ1vXh2", iterations: int = 2000) -> str:
    """A Django ``pbkdf2_sha256`` hash, computed here the way Django computes it."""
    key = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(key).decode()}"


def test_the_admin_routes_need_the_users_admin_scope(service: Running) -> None:
    with service.client() as c:
        register(c, "mallory")
        token = login(c, "mallory").json()["access_token"]
        for method, path in (("GET", "/users"), ("POST", "/users/mallory/disable")):
            r = c.request(method, path, headers=bearer(token))
            assert r.status_code == 403, r.text
            assert r.json()["error"] == "insufficient_scope"
        assert c.get("/users").status_code == 401


def test_an_administrator_cannot_lock_itself_out_over_http(service: Running) -> None:
    with service.client() as c:
        admin = _admin_token(service, c)
        register(c, "other")
        refused = [
            c.post("/users/ROOT/disable", headers=admin),  # its name in another case
            c.delete("/users/root", headers=admin),
            c.delete("/users/root/scopes/users:admin", headers=admin),
        ]
        others = [
            c.delete("/users/root/scopes/users:me", headers=admin),  # a scope of its own
            c.post("/users/other/disable", headers=admin),  # another's account
        ]
        still = c.get("/users/root", headers=admin)
    for answer in refused:
        assert answer.status_code == 409, answer.text
        assert answer.json()["error"] == "own_account"
    assert [a.status_code for a in others] == [200, 200]
    assert still.status_code == 200 and not still.json()["disabled"]
    assert "users:admin" in still.json()["scopes"]
    audit = service.audit()  # refused attempts are recorded, as every other refusal
    for event, user in (("disable", "ROOT"), ("delete", "root"), ("revoke", "root")):
        assert f'"event": "admin.{event}", "outcome": "refused", "user": "{user}"' in audit


def test_no_change_over_http_leaves_no_enabled_administrator(service: Running) -> None:
    # A machine client holding users:admin is no account: the last account holding the
    # scope is kept from it too.
    create_user(service.settings, "root", lambda _name: PASSWORD, ["users:admin", "clients:admin"])
    with service.client() as c:
        root = bearer(login(c, "root").json()["access_token"])
        made = c.post("/clients", json={"name": "robot", "scopes": ["users:admin"]}, headers=root)
        assert made.status_code == 201, made.text
        auth = (made.json()["client_id"], made.json()["client_secret"])
        form = {"grant_type": "client_credentials"}
        robot = bearer(c.post("/auth/token", data=form, auth=auth).json()["access_token"])
        refused = [
            c.post("/users/root/disable", headers=robot),
            c.delete("/users/root", headers=robot),
            c.delete("/users/root/scopes/users:admin", headers=robot),
        ]
        still = c.get("/users/root", headers=root).json()
    for answer in refused:
        assert answer.status_code == 409, answer.text
        assert answer.json() == {
            "error": "last_admin",
            "message": "'root' is the last enabled account holding users:admin: refused, "
            "as it would leave none",
        }
    assert still["disabled"] is False and "users:admin" in still["scopes"]
    assert '"event": "admin.disable", "outcome": "refused", "user": "root"' in service.audit()


def test_an_administrator_whose_users_admin_was_taken_back_is_refused_at_once(
    service: Running,
) -> None:
    # Its live token still carries the scope: honoured, it granted the scope back to its
    # own account, and taking users:admin from anyone never held.
    with service.client() as c:
        root = _admin_token(service, c)
        create_user(service.settings, "eve", lambda _name: PASSWORD, ["users:admin"])
        eve = bearer(login(c, "eve").json()["access_token"])
        assert c.get("/users", headers=eve).status_code == 200
        assert c.delete("/users/eve/scopes/users:admin", headers=root).status_code == 200
        refused = [
            c.post("/users/eve/scopes", json={"scopes": ["users:admin"]}, headers=eve),
            c.get("/users", headers=eve),
            c.post("/users/root/disable", headers=eve),
        ]
        eve_now = c.get("/users/eve", headers=root).json()
        root_now = c.get("/users/root", headers=root).json()
        # Granted again, the same token administers again: it is the account that counts.
        assert c.post("/users/eve/scopes", json={"scopes": ["users:admin"]}, headers=root)
        again = c.get("/users", headers=eve)
    for answer in refused:
        assert answer.status_code == 403, answer.text
        assert answer.json() == {
            "error": "insufficient_scope",
            "message": "the account no longer holds the scope users:admin",
        }
    assert eve_now["scopes"] == ["users:me"]
    assert root_now["disabled"] is False
    assert again.status_code == 200


def test_a_client_administrator_cannot_use_scopes_taken_back_from_its_account(
    service: Running,
) -> None:
    # Its live token still carried users:admin and clients:admin: it registered a client
    # holding users:admin (a way back to the scope) and administered clients on.
    with service.client() as c:
        root = _admin_token(service, c)
        create_user(
            service.settings, "eve", lambda _name: PASSWORD, ["users:admin", "clients:admin"]
        )
        eve = bearer(login(c, "eve").json()["access_token"])
        assert c.get("/clients", headers=eve).status_code == 200
        assert c.delete("/users/eve/scopes/users:admin", headers=root).status_code == 200
        minted = c.post(
            "/clients", json={"name": "way-back", "scopes": ["users:admin"]}, headers=eve
        )
        assert c.delete("/users/eve/scopes/clients:admin", headers=root).status_code == 200
        listed = c.get("/clients", headers=eve)
    assert minted.status_code == 403, minted.text
    assert minted.json()["error"] == "insufficient_scope"
    assert listed.status_code == 403, listed.text
    assert listed.json() == {
        "error": "insufficient_scope",
        "message": "the account no longer holds the scope clients:admin",
    }
    assert 'scope="clients:admin"' in listed.headers["www-authenticate"]


def test_list_and_show_give_no_hash_and_an_unknown_name_is_404(service: Running) -> None:
    with service.client() as c:
        admin = _admin_token(service, c)
        register(c, "alice")
        login(c, "alice")
        listed = c.get("/users", headers=admin).json()
        assert [a["username"] for a in listed] == ["alice", "root"]
        alice = c.get("/users/ALICE", headers=admin).json()
        assert alice["username"] == "alice"
        assert alice["scopes"] == ["users:me"]
        assert alice["disabled"] is False
        assert alice["last_login_at"] is not None and alice["created_at"]
        assert set(alice) == {
            "id",
            "username",
            "scopes",
            "disabled",
            "created_at",
            "last_login_at",
        }
        stored = stored_hash(service.settings, "alice")
        r = c.get("/users/bob", headers=admin)
        assert r.status_code == 404
        assert r.json() == {"error": "account_not_found", "message": "no account named 'bob'"}
        for path in ("/users/bob/disable", "/users/bob/enable"):
            assert c.post(path, headers=admin).json()["error"] == "account_not_found"
        assert c.delete("/users/bob", headers=admin).status_code == 404
        text = str(listed) + str(alice)
    assert stored not in text
    assert stored.split("$")[-1] not in service.audit()
    assert '"event": "admin.disable", "outcome": "not_found", "user": "bob"' in service.audit()


def test_list_pages_follow_their_next_links_to_every_account_once(service: Running) -> None:
    names = ["dana+ops", "ops/totp", "amy", "zoe", "bob", "carl"]
    for name in names:
        create_user(service.settings, name, lambda _name: PASSWORD, ["users:me"])
    with service.client() as c:
        admin = _admin_token(service, c)
        everyone = [a["username"] for a in c.get("/users", headers=admin).json()]
        paged: list[str] = []
        url: str | None = "/users?limit=3"
        pages = 0
        while url is not None:
            r = c.get(url, headers=admin)
            assert r.status_code == 200, r.text
            page = [a["username"] for a in r.json()]
            assert 0 < len(page) <= 3 or (page == [] and pages > 0)
            paged += page
            pages += 1
            link = r.headers.get("link")
            url = link[1 : link.index(">")] if link else None
            assert link is None or link.endswith('>; rel="next"')
        too_big = c.get("/users?limit=1001", headers=admin)
        nothing_after = c.get("/users", params={"after": everyone[-1]}, headers=admin)
    assert sorted(everyone) == sorted([*names, "root"])
    assert paged == everyone  # the same order, no account twice or left out
    assert pages == 3  # 7 accounts: 3, 3, then 1 with no link after it
    assert too_big.status_code == 422
    assert too_big.json()["error"] == "validation_error"
    assert nothing_after.json() == []


def test_grant_reaches_the_next_login_and_revoke_the_next_refresh(service: Running) -> None:
    with service.client() as c:
        admin = _admin_token(service, c)
        register(c, "ops")
        before = login(c, "ops").json()
        r = c.post("/users/ops/scopes", json={"scopes": ["transit:admin"]}, headers=admin)
        assert r.status_code == 200, r.text
        assert r.json()["scopes"] == ["transit:admin", "users:me"]
        assert login(c, "ops").json()["scope"] == "transit:admin users:me"
        # A refresh never widens the grant of its family.
        refreshed = c.post("/auth/refresh", json={"refresh_token": before["refresh_token"]})
        assert refreshed.json()["scope"] == "users:me"
        r = c.delete("/users/ops/scopes/users:me", headers=admin)
        assert r.json()["scopes"] == ["transit:admin"]
        again = c.post("/auth/refresh", json={"refresh_token": refreshed.json()["refresh_token"]})
        assert "scope" not in again.json()  # nothing granted: no member, never ""
        r = c.post("/users/ops/scopes", json={"scopes": ["two words"]}, headers=admin)
        assert r.status_code == 422 and r.json()["error"] == "invalid_scope"
    audit = service.audit()
    assert '"event": "admin.grant", "outcome": "success", "user": "ops"' in audit
    assert '"event": "admin.grant", "outcome": "refused", "user": "ops"' in audit


def test_a_refresh_asking_for_a_revoked_scope_is_invalid_scope_not_an_empty_grant(
    service: Running,
) -> None:
    # The family was granted "transit:admin users:me"; an administrator then took
    # transit:admin away. Asking for it alone gave an access token with no scope at all.
    with service.client() as c:
        admin = _admin_token(service, c)
        register(c, "ops2")
        c.post("/users/ops2/scopes", json={"scopes": ["transit:admin"]}, headers=admin)
        first = login(c, "ops2").json()
        assert first["scope"] == "transit:admin users:me"
        r = c.delete("/users/ops2/scopes/transit:admin", headers=admin)
        assert r.json()["scopes"] == ["users:me"]

        def refresh(token: str, scope: str | None = None) -> httpx2.Response:
            form = {"grant_type": "refresh_token", "refresh_token": token}
            return c.post("/auth/token", data=form if scope is None else {**form, "scope": scope})

        refused = refresh(first["refresh_token"], "transit:admin")
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"] == "invalid_scope"
        refused = refresh(first["refresh_token"], "transit:admin users:me")
        assert refused.json()["error"] == "invalid_scope"
        # Nothing changed: the token is still live, and grants what the account holds.
        rotated = refresh(first["refresh_token"], "users:me")
        assert rotated.status_code == 200 and rotated.json()["scope"] == "users:me"
        # Used now: asking for the revoked scope with it again is reuse, not invalid_scope.
        reused = refresh(first["refresh_token"], "transit:admin")
        assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
        after = refresh(rotated.json()["refresh_token"])
        assert after.json()["error"] == "invalid_grant"  # the family was revoked


def test_disable_refuses_the_live_token_at_once_and_enable_lets_it_log_in(
    service: Running,
) -> None:
    with service.client() as c:
        admin = _admin_token(service, c)
        register(c, "bob")
        tokens = login(c, "bob").json()
        live = bearer(tokens["access_token"])
        assert c.get("/users/me", headers=live).status_code == 200
        r = c.post("/users/bob/disable", headers=admin)
        assert r.status_code == 200 and r.json()["disabled"] is True
        r = c.get("/users/me", headers=live)
        assert r.status_code == 401 and r.json()["message"] == "the access token was revoked"
        r = c.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
        r = login(c, "bob")
        assert r.status_code == 400
        assert r.json()["error"] == "invalid_grant"
        # A wrong password's answer, right password or not (the audit log says why).
        assert r.json()["error_description"] == "invalid username or password"
        wrong = login(c, "bob", "not the password")
        assert wrong.json()["error_description"] == "invalid username or password"
        assert c.post("/users/bob/enable", headers=admin).json()["disabled"] is False
        fresh = login(c, "bob")
        assert fresh.status_code == 200
        assert c.get("/users/me", headers=live).status_code == 401  # ended sessions stay ended
        me = c.get("/users/me", headers=bearer(fresh.json()["access_token"]))
        assert me.status_code == 200
    assert '"event": "login", "outcome": "disabled", "user": "bob"' in service.audit()


def test_reset_password_ends_sessions_and_checks_the_policy(service: Running) -> None:
    with service.client() as c:
        admin = _admin_token(service, c)
        register(c, "carol")
        live = bearer(login(c, "carol").json()["access_token"])
        r = c.post("/users/carol/password", json={"password": "short"}, headers=admin)
        assert r.status_code == 422 and r.json()["error"] == "weak_password"
        r = c.post("/users/carol/password", json={"password": NEW_PASSWORD}, headers=admin)
        assert r.status_code == 204
        assert c.get("/users/me", headers=live).status_code == 401
        assert login(c, "carol").status_code == 400
        assert login(c, "carol", NEW_PASSWORD).status_code == 200
    assert NEW_PASSWORD not in service.audit()


def test_delete_refuses_the_live_token_and_frees_the_name(service: Running) -> None:
    with service.client() as c:
        admin = _admin_token(service, c)
        register(c, "dave")
        live = bearer(login(c, "dave").json()["access_token"])
        assert c.delete("/users/dave", headers=admin).status_code == 204
        assert c.get("/users/me", headers=live).status_code == 401
        assert c.get("/users/dave", headers=admin).status_code == 404
        assert login(c, "dave").status_code == 400
        # The name (and perhaps the id) can be used again; the old token stays refused.
        assert register(c, "dave").status_code == 201
        assert login(c, "dave").status_code == 200
        assert c.get("/users/me", headers=live).status_code == 401


def test_imported_bcrypt_django_and_argon2_hashes_log_in_and_are_upgraded(
    service: Running, caplog: pytest.LogCaptureFixture
) -> None:
    # Everything sealbox logs, and what other libraries log at INFO (aiosqlite's DEBUG
    # records show SQL parameters: no deployment runs it at that level).
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="sealbox")
    require_module("bcrypt")
    import argon2
    import bcrypt

    bcrypt_hash = bcrypt.hashpw(b"bcrypt-password-1", bcrypt.gensalt(rounds=4)).decode()
    old_argon2 = argon2.PasswordHasher(time_cost=1, memory_cost=256, parallelism=1)
    users = [
        {"username": "Bee", "password_hash": bcrypt_hash, "scopes": ["transit:admin"]},
        {"username": "dj", "password_hash": django_pbkdf2("django-password-1")},
        {"username": "argo", "password_hash": old_argon2.hash("argon2-password-1")},
        {
            "username": "pl",
            "password_hash": passlib_pbkdf2("passlib-password-1", "sha512", b"salt" * 4, 1000),
        },
    ]
    with service.client() as c:
        admin = _admin_token(service, c)
        r = c.post("/users/import", json={"users": users}, headers=admin)
        assert r.status_code == 200, r.text
        assert r.json() == {"imported": ["bee", "dj", "argo", "pl"], "refused": []}
        for name, password in (
            ("bee", "bcrypt-password-1"),
            ("dj", "django-password-1"),
            ("argo", "argon2-password-1"),
            ("pl", "passlib-password-1"),
        ):
            assert login(c, name, "wrong password").status_code == 400
            r = login(c, name, password)
            assert r.status_code == 200, (name, r.text)
            upgraded = stored_hash(service.settings, name)
            assert upgraded.startswith("$argon2id$v=19$"), name
            assert login(c, name, password).status_code == 200
        assert login(c, "bee", "bcrypt-password-1").json()["scope"] == "transit:admin users:me"
        listed = c.get("/users", headers=admin).text
    assert bcrypt_hash not in listed and bcrypt_hash not in service.audit()
    salt_and_digest = bcrypt_hash[7:]
    assert salt_and_digest not in caplog.text and salt_and_digest not in service.audit()
    rehashed = [
        json.loads(line)
        for line in service.audit().splitlines()
        if '"event": "rehash"' in line and '"user": "bee"' in line
    ]
    # The address of the login that upgraded it, as the login's own record has it.
    assert [r["address"] for r in rehashed] == ["127.0.0.1"]


def test_an_import_with_a_refused_entry_imports_nothing_unless_skip_invalid(
    service: Running,
) -> None:
    good = {"username": "erin", "password_hash": django_pbkdf2("erin-password-1")}
    users = [
        good,
        {"username": "Root", "password_hash": django_pbkdf2("x" * 10)},
        {"username": "fr\u0430nk", "password_hash": "md5$abc"},
    ]
    with service.client() as c:
        admin = _admin_token(service, c)
        r = c.post("/users/import", json={"users": users}, headers=admin)
        assert r.status_code == 422
        body = r.json()
        assert body["error"] == "import_refused"
        assert [(p["line"], p["username"]) for p in body["refused"]] == [
            (2, "Root"),
            (3, "fr\u0430nk"),
        ]
        assert "md5$abc" not in r.text
        assert c.get("/users/erin", headers=admin).status_code == 404
        r = c.post("/users/import", json={"users": users, "skip_invalid": True}, headers=admin)
        assert r.status_code == 200
        assert r.json()["imported"] == ["erin"]
        assert len(r.json()["refused"]) == 2
        assert login(c, "erin", "erin-password-1").status_code == 200
