"""The authentication core under concurrent and crafted attempts, over real HTTPS.

Concurrent attempts are released together (:func:`tests.service._workers.together`).
Two workers here are two servers in this process sharing PostgreSQL and Redis; the
same attacks against ``sealbox serve --workers 2`` are in ``test_auth_workers.py``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest

from sealbox.jwt import TokenVerifier
from sealbox.service.provision import DataDir
from tests.service._transit import add_user
from tests.service._workers import together
from tests.service.conftest import (
    PASSWORD,
    Running,
    bearer,
    login,
    make_settings,
    register,
    reset_shared_state,
    run_service,
    shared_settings,
)


def clients(running: Running | list[Running], n: int) -> list[httpx2.Client]:
    servers = running if isinstance(running, list) else [running]
    return [servers[i % len(servers)].client() for i in range(n)]


def close(cs: list[httpx2.Client]) -> None:
    for c in cs:
        c.close()


@pytest.fixture
def shared():
    settings = shared_settings()
    reset_shared_state()
    yield settings
    reset_shared_state()


@pytest.fixture
def two_workers(tmp_path: Path, shared):
    data = tmp_path / "data"
    with (
        run_service(make_settings(data, **shared)) as a,
        run_service(make_settings(data, **shared)) as b,
    ):
        yield [a, b]


def _concurrent_wrong_logins(servers: Running | list[Running]) -> None:
    first = servers[0] if isinstance(servers, list) else servers
    with first.client() as c:
        register(c, "target")
    cs = clients(servers, 15)
    try:
        answers = together(cs, lambda _i, c: login(c, "target", "wrong guess"))
    finally:
        close(cs)
    checked = [r for r in answers if r.status_code == 400]
    refused = [r for r in answers if r.status_code == 429]
    assert len(checked) + len(refused) == 15, [r.status_code for r in answers]
    # Limit 5 per username: at most 5 passwords were checked, the rest waited.
    assert len(checked) <= 5
    assert all(int(r.headers["retry-after"]) > 0 for r in refused)
    # The right password is refused too until the window ends.
    with first.client() as c:
        assert login(c, "target").status_code == 429


def test_concurrent_wrong_logins_check_at_most_the_username_limit(service) -> None:
    _concurrent_wrong_logins(service)


@pytest.mark.postgres
@pytest.mark.redis
def test_concurrent_wrong_logins_through_two_workers_check_at_most_the_limit(two_workers) -> None:
    _concurrent_wrong_logins(two_workers)


def _concurrent_logins_from_one_address(servers: Running | list[Running]) -> None:
    # 40 attempts at 40 different names from one address: the address limit is 20.
    cs = clients(servers, 40)
    try:
        answers = together(cs, lambda i, c: login(c, f"nobody{i}", "wrong guess"))
    finally:
        close(cs)
    checked = sum(r.status_code == 400 for r in answers)
    assert checked <= 20
    assert checked + sum(r.status_code == 429 for r in answers) == 40


def test_concurrent_logins_from_one_address_check_at_most_the_address_limit(service) -> None:
    _concurrent_logins_from_one_address(service)


@pytest.mark.postgres
@pytest.mark.redis
def test_concurrent_logins_from_one_address_through_two_workers(two_workers) -> None:
    _concurrent_logins_from_one_address(two_workers)


def test_concurrent_wrong_current_passwords_check_at_most_the_limit(service) -> None:
    with service.client() as c:
        register(c, "victim")
        token = login(c, "victim").json()["access_token"]
    body = {"current_password": "not it at all", "new_password": "a new password"}
    cs = clients(service, 12)
    try:
        answers = together(
            cs, lambda _i, c: c.post("/auth/password", json=body, headers=bearer(token))
        )
    finally:
        close(cs)
    assert sum(r.status_code == 403 for r in answers) <= 5
    refused = sum(r.status_code == 429 for r in answers)
    assert refused >= 7
    records = [json.loads(line) for line in service.audit().splitlines()]
    throttled = [
        r for r in records if r["event"] == "password_change" and r["outcome"] == "throttled"
    ]
    assert len(throttled) == refused and all(r["user"] == "victim" for r in throttled)


def test_a_good_login_does_not_use_up_the_address_limit(service) -> None:
    with service.client() as c:
        register(c, "regular")
        # Registration counts 1 against the address; 30 good logins count nothing.
        for _ in range(30):
            assert login(c, "regular").status_code == 200


def test_registrations_count_against_the_address_limit(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", throttle_address_attempts=20)
    with run_service(settings) as running, running.client() as c:
        codes = [register(c, f"user{i}").status_code for i in range(25)]
        assert codes[:20] == [201] * 20
        assert set(codes[20:]) == {429}
        # username_taken does not answer freely either once the address is throttled.
        assert register(c, "user0").status_code == 429


# -- refresh keeps the granted scope ----------------------------------------------


def _narrow_login_stays_narrow(servers: list[Running]) -> None:
    a, b = servers[0], servers[-1]
    add_user(a.settings, "ops", ["users:me", "transit:admin"])
    with a.client() as ca, b.client() as cb:
        r = ca.post(
            "/auth/token",
            data={"username": "ops", "password": PASSWORD, "scope": "users:me"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["scope"] == "users:me"
        refreshed = cb.post("/auth/refresh", json={"refresh_token": r.json()["refresh_token"]})
        assert refreshed.status_code == 200
        assert refreshed.json()["scope"] == "users:me"
        claims = _claims(a, refreshed.json()["access_token"])
        assert claims["scope"] == "users:me"
        # Asking for more at refresh is refused, and the token still works afterwards.
        wider = ca.post(
            "/auth/refresh",
            json={"refresh_token": refreshed.json()["refresh_token"], "scope": "transit:admin"},
        )
        assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"
        refused = [
            json.loads(line)
            for line in a.audit().splitlines()
            if '"event": "refresh", "outcome": "invalid_scope"' in line
        ]
        assert refused and refused[-1]["user"] == "ops"  # the family's account is known
        again = cb.post(
            "/auth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": refreshed.json()["refresh_token"],
            },
        )
        assert again.status_code == 200 and again.json()["scope"] == "users:me"


def _claims(running: Running, token: str) -> dict[str, Any]:
    keyset = DataDir(running.settings.data_dir).load_keyset()
    verifier = TokenVerifier(keyset, audience="sealbox", issuer="sealbox")
    return verifier.verify(token)


def test_a_login_asking_only_for_scopes_the_account_lacks_is_refused_as_invalid_scope(
    service,
) -> None:
    add_user(service.settings, "narrow", ["users:me"])
    form = {"username": "narrow", "password": PASSWORD}
    with service.client() as c:
        # The password is checked first: a wrong one says nothing of the scopes.
        wrong = c.post("/auth/token", data={**form, "password": "not it", "scope": "x:y"})
        assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
        refused = c.post("/auth/token", data={**form, "scope": "transit:admin x:y"})
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"] == "invalid_scope"
        assert "access_token" not in refused.json()
        assert refused.headers["cache-control"] == "no-store"
        # Some of them is a narrower grant, and the answer says which.
        some = c.post("/auth/token", data={**form, "scope": "transit:admin users:me"})
        assert some.status_code == 200 and some.json()["scope"] == "users:me"
    records = [json.loads(line) for line in service.audit().splitlines()]
    outcomes = [r["outcome"] for r in records if r["event"] == "login" and r["user"] == "narrow"]
    assert outcomes == ["failure", "invalid_scope", "success"]


def test_a_refresh_never_widens_the_granted_scope(service) -> None:
    _narrow_login_stays_narrow([service])


@pytest.mark.postgres
@pytest.mark.redis
def test_a_refresh_never_widens_the_granted_scope_across_workers(two_workers) -> None:
    _narrow_login_stays_narrow(two_workers)


def test_a_refresh_may_narrow_the_scope(service) -> None:
    add_user(service.settings, "wide", ["users:me", "transit:admin"])
    with service.client() as c:
        r = c.post("/auth/token", data={"username": "wide", "password": PASSWORD})
        assert r.json()["scope"] == "transit:admin users:me"
        narrow = c.post(
            "/auth/refresh", json={"refresh_token": r.json()["refresh_token"], "scope": "users:me"}
        )
        assert narrow.status_code == 200 and narrow.json()["scope"] == "users:me"


# -- usernames ----------------------------------------------------------------------

LOOK_ALIKES = [
    ("Alice", 409),
    ("ALICE", 409),
    ("\uff41\uff4c\uff49\uff43\uff45", 409),  # fullwidth
    ("alice ", 422),  # trailing space
    ("al\u200bice", 422),  # zero-width space
    ("\u0430lice", 409),  # Cyrillic a: same skeleton
    ("\u202ealice", 422),  # right-to-left override
    ("\ufeffalice", 422),  # byte order mark
]


@pytest.mark.parametrize(("name", "status"), LOOK_ALIKES)
def test_look_alike_usernames_are_refused(service, name: str, status: int) -> None:
    with service.client() as c:
        assert register(c, "alice").status_code == 201
        r = register(c, name)
        assert r.status_code == status, r.text
        expected = "username_taken" if status == 409 else "validation_error"
        assert r.json()["error"] == expected
        if status == 422:
            assert "U+" in r.json()["message"]  # which character, as a code point


def test_a_username_in_another_case_or_width_logs_in_to_the_same_account(service) -> None:
    with service.client() as c:
        assert register(c, "Alice").json()["username"] == "alice"
        for given in ("alice", "ALICE", "\uff21lice"):
            r = login(c, given)
            assert r.status_code == 200, given
            assert _claims(service, r.json()["access_token"])["sub"] == "alice"


def test_users_create_follows_the_username_rules(cli, tmp_path: Path) -> None:
    data = ["--data-dir", tmp_path / "d"]
    env = {"SEALBOX_PASSWORD_PROFILE": "test"}
    r = cli(["users", "create", "Bob", *data], input=b"a long password\n", env=env)
    assert r.code == 0, r.stderr
    assert "created user bob" in r.out
    r = cli(["users", "create", "b\u043eb", *data], input=b"a long password\n", env=env)
    assert r.code == 1
    assert "looks like it, is taken" in r.stderr
    r = cli(["users", "create", "bo b", *data], input=b"a long password\n", env=env)
    assert r.code == 1
    assert r.stderr.startswith("sealbox: error: the username is not valid: spaces")


# -- families: reuse, revocation of access tokens, grace -------------------------


def _reuse_refuses_the_family_access_tokens(servers: list[Running]) -> None:
    a, b = servers[0], servers[-1]
    with a.client() as ca, b.client() as cb:
        register(ca, "erin")
        first = login(ca, "erin").json()
        second = cb.post("/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
        for token in (first["access_token"], second["access_token"]):
            assert cb.get("/users/me", headers=bearer(token)).status_code == 200
        # A thief replays the first refresh token through the other worker.
        assert (
            ca.post("/auth/refresh", json={"refresh_token": first["refresh_token"]}).status_code
            == 400
        )
        for client in (ca, cb):
            for token in (first["access_token"], second["access_token"]):
                r = client.get("/users/me", headers=bearer(token))
                assert (
                    r.status_code == 401 and r.json()["message"] == "the access token was revoked"
                )
        other = login(cb, "erin").json()  # a new login is a new family: it works
        assert ca.get("/users/me", headers=bearer(other["access_token"])).status_code == 200


def test_reuse_detection_refuses_the_family_access_tokens_at_once(service) -> None:
    _reuse_refuses_the_family_access_tokens([service])
    records = [json.loads(line) for line in service.audit().splitlines()]
    reuse = [r for r in records if r["outcome"] == "reuse_detected"]
    assert reuse and reuse[0]["user"] == "erin"


@pytest.mark.postgres
@pytest.mark.redis
def test_reuse_detection_refuses_the_family_access_tokens_on_every_worker(two_workers) -> None:
    _reuse_refuses_the_family_access_tokens(two_workers)


def _same_token_same_instant(servers: list[Running]) -> list[httpx2.Response]:
    with servers[0].client() as c:
        register(c, "racer")
        refresh_token = login(c, "racer").json()["refresh_token"]
    cs = clients(servers, 6)
    try:
        return together(
            cs, lambda _i, c: c.post("/auth/refresh", json={"refresh_token": refresh_token})
        )
    finally:
        close(cs)


def test_strict_mode_gives_exactly_one_winner_on_one_worker(service) -> None:
    answers = _same_token_same_instant([service])
    codes = [r.status_code for r in answers]
    assert codes.count(200) == 1 and codes.count(400) == 5, codes


@pytest.mark.postgres
@pytest.mark.redis
def test_strict_mode_gives_exactly_one_winner_across_workers(two_workers) -> None:
    answers = _same_token_same_instant(two_workers)
    assert sum(r.status_code == 200 for r in answers) == 1


@pytest.mark.postgres
@pytest.mark.redis
def test_within_the_grace_a_retry_gets_a_fresh_pair_across_workers(tmp_path: Path, shared) -> None:
    data = tmp_path / "data"
    grace = {"refresh_reuse_grace": 30.0}
    with (
        run_service(make_settings(data, **shared, **grace)) as a,
        run_service(make_settings(data, **shared, **grace)) as b,
    ):
        answers = _same_token_same_instant([a, b])
        assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
        pairs = [r.json() for r in answers]
        assert len({p["refresh_token"] for p in pairs}) == 6
        with a.client() as c:  # every pair works: the family lives on
            for p in pairs:
                assert c.get("/users/me", headers=bearer(p["access_token"])).status_code == 200
            assert (
                c.post(
                    "/auth/refresh", json={"refresh_token": pairs[0]["refresh_token"]}
                ).status_code
                == 200
            )


def test_after_the_grace_reuse_revokes_the_family(tmp_path: Path) -> None:
    with run_service(make_settings(tmp_path / "data", refresh_reuse_grace=1.0)) as running:
        with running.client() as c:
            register(c, "late")
            first = login(c, "late").json()
            second = c.post("/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
            retry = c.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
            assert retry.status_code == 200  # within the grace: a lost answer, retried
            time.sleep(1.5)
            late = c.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
            assert late.status_code == 400
            for token in (second["refresh_token"], retry.json()["refresh_token"]):
                assert c.post("/auth/refresh", json={"refresh_token": token}).status_code == 400
        outcomes = [json.loads(line)["outcome"] for line in running.audit().splitlines()]
        assert "retried" in outcomes and "reuse_detected" in outcomes


def test_strict_mode_is_the_default(service) -> None:
    assert service.settings.refresh_reuse_grace == 0
    with service.client() as c:
        register(c, "strict")
        first = login(c, "strict").json()["refresh_token"]
        assert c.post("/auth/refresh", json={"refresh_token": first}).status_code == 200
        assert c.post("/auth/refresh", json={"refresh_token": first}).status_code == 400
