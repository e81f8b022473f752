"""The account and token flow over real HTTPS."""

from __future__ import annotations

import json

import pytest

from sealbox.jwt import JWKSet, TokenVerifier
from tests.service.conftest import PASSWORD, bearer, login, register


def test_whole_flow(service) -> None:
    with service.client() as c:
        r = register(c, "alice")
        assert r.status_code == 201
        assert r.json() == {"id": 1, "username": "alice", "scopes": ["users:me"]}
        r = login(c, "alice")
        assert r.status_code == 200, r.text
        tokens = r.json()
        assert set(tokens) == {"access_token", "token_type", "expires_in", "refresh_token", "scope"}
        assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 900
        me = c.get("/users/me", headers=bearer(tokens["access_token"]))
        assert me.status_code == 200
        assert me.json()["username"] == "alice" and me.json()["scopes"] == ["users:me"]
        assert me.json()["client_certificate"] is None
        # The access token verifies anywhere from the published JWKS alone.
        jwks = c.get("/.well-known/jwks.json").json()
        claims = TokenVerifier(JWKSet.from_dict(jwks), audience="sealbox", issuer="sealbox").verify(
            tokens["access_token"]
        )
        assert claims["sub"] == "alice" and claims["scope"] == "users:me"
        assert c.get("/health").json() == {"status": "ok"}
        refreshed = c.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 200
        assert refreshed.json()["refresh_token"] != tokens["refresh_token"]
        assert (
            c.get("/users/me", headers=bearer(refreshed.json()["access_token"])).status_code == 200
        )
    audit = [json.loads(line) for line in service.audit().splitlines()]
    assert [(a["event"], a["outcome"]) for a in audit] == [
        ("register", "success"),
        ("login", "success"),
        ("refresh", "success"),
    ]
    assert PASSWORD not in service.audit()
    assert tokens["refresh_token"] not in service.audit()


def test_register_rules(service) -> None:
    with service.client() as c:
        assert register(c, "bob").status_code == 201
        r = register(c, "bob")
        assert r.status_code == 409 and r.json()["error"] == "username_taken"
        for password, code in (("short", 422), ("x" * 1025, 422), ("Carol-Name", 422)):
            r = register(c, "carol-name", password)
            assert r.status_code == code and r.json()["error"] == "weak_password", r.text
        r = register(
            c, "carol", "\uff43\uff4f\uff52\uff52\uff45\uff43\uff54 horse"
        )  # NFKC: 13 chars
        assert r.status_code == 201
        r = register(c, "tab\tname")
        assert r.status_code == 422


@pytest.mark.parametrize(
    ("username", "stored"),
    [
        ("robert');DROP_TABLE_users;--", "robert');drop_table_users;--"),
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),
        ('O\'Brien"quoted"', 'o\'brien"quoted"'),
        ("名前", "名前"),
    ],
)
def test_hostile_usernames_are_stored_in_canonical_form(service, username: str, stored: str):
    with service.client() as c:
        r = register(c, username)
        assert r.status_code == 201 and r.json()["username"] == stored
        token = login(c, username).json()["access_token"]
        me = c.get("/users/me", headers=bearer(token))
        assert me.json()["username"] == stored
        assert me.headers["content-type"] == "application/json"
        assert register(c, "after").status_code == 201  # the table is still there


def test_unknown_user_and_wrong_password_look_the_same(service) -> None:
    with service.client() as c:
        register(c, "dave")
        wrong = login(c, "dave", "not the password")
        unknown = login(c, "nobody", "not the password")
        assert wrong.status_code == unknown.status_code == 400
        assert (
            wrong.json()
            == unknown.json()
            == {
                "error": "invalid_grant",
                "error_description": "invalid username or password",
                "message": "invalid username or password",
            }
        )
        assert set(wrong.headers) == set(unknown.headers)


def test_refresh_reuse_revokes_the_family(service) -> None:
    with service.client() as c:
        register(c, "erin")
        first = login(c, "erin").json()["refresh_token"]
        second = c.post("/auth/refresh", json={"refresh_token": first}).json()["refresh_token"]
        # A thief replays the first token: refused, and the whole family dies.
        r = c.post("/auth/refresh", json={"refresh_token": first})
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
        r = c.post("/auth/refresh", json={"refresh_token": second})
        assert r.status_code == 400
        assert c.post("/auth/refresh", json={"refresh_token": "sbr_forged"}).status_code == 400
    assert '"reuse_detected"' in service.audit()


def test_logout_revokes_access_and_refresh(service) -> None:
    with service.client() as c:
        register(c, "frank")
        tokens = login(c, "frank").json()
        other = login(c, "frank").json()  # another session stays alive
        h = bearer(tokens["access_token"])
        assert c.get("/users/me", headers=h).status_code == 200
        r = c.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=h)
        assert r.status_code == 204
        r = c.get("/users/me", headers=h)
        assert r.status_code == 401 and r.json()["error"] == "invalid_token"
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert (
            c.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code
            == 400
        )
        assert c.get("/users/me", headers=bearer(other["access_token"])).status_code == 200


def test_password_change_ends_every_session(service) -> None:
    with service.client() as c:
        register(c, "gina")
        a = login(c, "gina").json()
        b = login(c, "gina").json()
        h = bearer(a["access_token"])
        body = {"current_password": "wrong-password", "new_password": "brand new pass"}
        assert c.post("/auth/password", json=body, headers=h).status_code == 403
        body["current_password"] = PASSWORD
        assert c.post("/auth/password", json=body, headers=h).status_code == 204
        for tokens in (a, b):
            assert c.get("/users/me", headers=bearer(tokens["access_token"])).status_code == 401
            r = c.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
            assert r.status_code == 400
        assert login(c, "gina").status_code == 400
        fresh = login(c, "gina", "brand new pass").json()
        assert c.get("/users/me", headers=bearer(fresh["access_token"])).status_code == 200


def test_throttling_with_retry_after(service) -> None:
    with service.client() as c:
        register(c, "henry")
        for _ in range(5):
            assert login(c, "henry", "wrong password").status_code == 400
        r = login(c, "henry")  # even the right password waits
        assert r.status_code == 429 and r.json()["error"] == "too_many_requests"
        assert 1 <= int(r.headers["retry-after"]) <= 300
    assert '"throttled"' in service.audit()


def test_bad_tokens_and_scopes(service) -> None:
    with service.client() as c:
        r = c.get("/users/me")
        assert r.status_code == 401 and r.json()["error"] == "not_authenticated"
        r = c.get("/users/me", headers=bearer("not.a.jwt"))
        assert r.status_code == 401 and r.json()["error"] == "invalid_token"
        register(c, "ivy")
        token = login(c, "ivy").json()["access_token"]
        forged = token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB")
        assert c.get("/users/me", headers=bearer(forged)).status_code == 401


def test_requested_scopes_are_narrowed(service) -> None:
    with service.client() as c:
        register(c, "jack")
        r = c.post(
            "/auth/token",
            data={"username": "jack", "password": PASSWORD, "scope": "users:me admin"},
        )
        assert r.json()["scope"] == "users:me"


def test_login_upgrades_legacy_and_old_hashes(service) -> None:
    import asyncio

    import bcrypt
    from argon2 import PasswordHasher as Argon2Hasher

    from sealbox.accounts.store import Store
    from sealbox.service.db import make_engine, sessionmaker

    legacy = {
        "old-bcrypt": bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode(),
        "old-argon2": Argon2Hasher(time_cost=1, memory_cost=16, parallelism=1).hash(PASSWORD),
    }

    async def setup_and_read(names: list[str]) -> dict[str, str]:
        engine = make_engine(service.settings.resolved_database_url())
        store = Store(sessionmaker(engine), refresh_ttl=60)
        out = {}
        for name in names:
            user = await store.user_by_name(name)
            if user is None:
                await store.create_user(name, legacy[name], ["users:me"])
            else:
                out[name] = user.password_hash
        await engine.dispose()
        return out

    asyncio.run(setup_and_read(list(legacy)))
    with service.client() as c:
        for name in legacy:
            assert login(c, name).status_code == 200
    stored = asyncio.run(setup_and_read(list(legacy)))
    for name, new_hash in stored.items():
        assert new_hash.startswith("$argon2id$") and new_hash != legacy[name]
    with service.client() as c:
        for name in legacy:
            assert login(c, name).status_code == 200  # the upgraded hash still verifies
    assert service.audit().count('"event": "rehash"') == 2


def test_a_json_body_giving_a_member_twice_is_refused_not_read_by_its_last_value(
    service,
) -> None:
    # A filter in front reading the first "username" and the app the last would act on
    # two different requests.
    with service.client() as c:
        password = json.dumps(PASSWORD)
        twice = f'{{"username": "first-dup", "username": "second-dup", "password": {password}}}'
        r = c.post("/auth/register", content=twice, headers={"content-type": "application/json"})
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "validation_error"
        assert r.json()["details"][0]["type"] == "json_invalid"
        for name in ("first-dup", "second-dup"):
            assert login(c, name).status_code != 200
        register(c, "once-dup")
        tokens = login(c, "once-dup").json()
        token = json.dumps(tokens["refresh_token"])
        twice = f'{{"refresh_token": {token}, "refresh_token": "x"}}'
        for path in ("/auth/refresh", "/auth/logout"):
            r = c.post(
                path,
                content=twice,
                headers={"content-type": "application/json", **bearer(tokens["access_token"])},
            )
            assert r.status_code == 422, (path, r.text)
