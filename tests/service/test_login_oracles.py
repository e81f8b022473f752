"""What the token endpoint's refusals tell a client: an unknown name, a wrong password, and
a disabled account's right or wrong password get the same full answer (status, headers,
body); the operator reads the reason in the audit log. A disabled account's attempts stay
counted by the throttle, and its right password does the work of a wrong one (no stored
hash upgraded)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import httpx2
import pytest

from sealbox.accounts import Accounts, sessions
from sealbox.accounts.admin import AccountAdmin
from sealbox.accounts.store import Store
from sealbox.accounts.totp import TotpSecretSealer, decode_secret, totp
from sealbox.passwords import PasswordHasher
from sealbox.service.admin import create_user
from sealbox.service.db import make_engine, sessionmaker
from tests._accounts import run_accounts
from tests.service.conftest import PASSWORD, Running, bearer, login, register
from tests.service.test_account_admin import stored_hash
from tests.service.test_accounts_edges import _pbkdf2_hash

ADDRESS = "192.0.2.44"
# Per-answer headers that differ between any two answers, whatever they answer.
_PER_ANSWER = {"date", "x-request-id"}


def _disable(service: Running, c: httpx2.Client, name: str) -> None:
    create_user(service.settings, "root", lambda _name: PASSWORD, ["users:admin"])
    admin = login(c, "root")
    assert admin.status_code == 200, admin.text
    r = c.post(f"/users/{name}/disable", headers=bearer(admin.json()["access_token"]))
    assert r.status_code == 200 and r.json()["disabled"] is True, r.text


def _full(r: httpx2.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = sorted((k.lower(), v) for k, v in r.headers.items() if k.lower() not in _PER_ANSWER)
    return r.status_code, headers, r.content


def _audit(service: Running) -> list[dict[str, object]]:
    return [json.loads(line) for line in service.audit().splitlines() if line.strip()]


def test_a_disabled_accounts_right_password_gets_a_wrong_passwords_full_answer(
    service: Running,
) -> None:
    with service.client() as c:
        assert register(c, "alice").status_code == 201
        assert register(c, "dora").status_code == 201
        _disable(service, c, "dora")
        answers = {
            "unknown name": login(c, "nobody-here"),
            "wrong password": login(c, "alice", "not the password 1"),
            "disabled, right password": login(c, "dora"),
            "disabled, wrong password": login(c, "dora", "not the password 1"),
        }
    first = _full(answers["unknown name"])
    assert first[0] == 400
    assert json.loads(first[2])["error"] == "invalid_grant"
    for what, answer in answers.items():
        assert _full(answer) == first, what
    # The operator is told which was which.
    dora = [r for r in _audit(service) if r.get("event") == "login" and r.get("user") == "dora"]
    assert [r["outcome"] for r in dora] == ["disabled", "failure"]


def test_a_disabled_accounts_logins_stay_counted_by_the_throttle(service: Running) -> None:
    limit = service.settings.throttle_user_attempts
    with service.client() as c:
        assert register(c, "erin").status_code == 201
        _disable(service, c, "erin")
        for _ in range(limit):
            r = login(c, "erin")
            assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
        throttled = login(c, "erin")
    assert throttled.status_code == 429, throttled.text
    assert throttled.headers.get("retry-after")


def test_a_disabled_accounts_right_password_upgrades_no_stored_hash(service: Running) -> None:
    legacy = _pbkdf2_hash(PASSWORD)

    async def create() -> None:
        engine = make_engine(service.settings.resolved_database_url())
        try:
            await Store(sessionmaker(engine), refresh_ttl=60).create_user(
                "fran", legacy, ["users:me"]
            )
        finally:
            await engine.dispose()

    asyncio.run(create())
    with service.client() as c:
        _disable(service, c, "fran")
        r = login(c, "fran")
    # An upgrade would cost a second Argon2 hash and a write that a wrong password does not.
    assert stored_hash(service.settings, "fran") == legacy
    assert not [x for x in _audit(service) if x.get("event") == "rehash"]
    assert r.status_code == 400 and r.json()["error_description"] == "invalid username or password"


def test_the_library_refuses_a_disabled_account_with_a_wrong_passwords_message(
    tmp_path: Path,
) -> None:
    async def scenario(accounts: Accounts) -> None:
        assert accounts.totp is not None
        user = await sessions.register(accounts, "gail", PASSWORD, ADDRESS)
        enrolment = await accounts.totp.begin(user.id, user.username)
        await accounts.totp.confirm(user.id, totp(decode_secret(enrolment.secret), time.time()))
        admin = AccountAdmin(
            accounts.store, accounts.revocations, accounts.hasher, access_token_ttl=900
        )
        await admin.disable("gail")
        with pytest.raises(sessions.LoginFailed) as wrong:
            await sessions.login(accounts, "gail", "not the password 1", ADDRESS, [])
        # Right password, no code: not mfa_required, which would say the password is right.
        with pytest.raises(sessions.AccountDisabled) as disabled:
            await sessions.login(accounts, "gail", PASSWORD, ADDRESS, [])
        assert str(disabled.value) == str(wrong.value) == "invalid username or password"
        assert disabled.value.code == wrong.value.code == "invalid_grant"
        assert disabled.value.facts == {"reason": "account_disabled"}

    run_accounts(tmp_path, scenario, totp_sealer=TotpSecretSealer(os.urandom(32)))


def _expire(service: Running, token: str) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from sealbox.accounts.models import RefreshToken
    from sealbox.accounts.token_records import hash_refresh_token

    async def run() -> None:
        engine = make_engine(service.settings.resolved_database_url())
        try:
            async with sessionmaker(engine).begin() as session:
                past = datetime.now(UTC) - timedelta(seconds=5)
                await session.execute(
                    update(RefreshToken)
                    .where(RefreshToken.token_hash == hash_refresh_token(token))
                    .values(expires_at=past)
                )
        finally:
            await engine.dispose()

    asyncio.run(run())


def test_refusals_of_a_refresh_do_not_tell_the_tokens_or_the_accounts_state_apart(
    service: Running,
) -> None:
    with service.client() as c:
        tokens = {}
        for name in ("hal", "ida", "jon", "kim", "lou"):
            assert register(c, name).status_code == 201
            r = login(c, name)
            assert r.status_code == 200, r.text
            tokens[name] = r.json()
        assert c.post(
            "/auth/logout",
            json={"refresh_token": tokens["hal"]["refresh_token"]},
            headers=bearer(tokens["hal"]["access_token"]),
        ).status_code in (200, 204)
        _disable(service, c, "ida")
        admin = bearer(login(c, "root").json()["access_token"])
        assert c.delete("/users/jon", headers=admin).status_code in (200, 204)
        _expire(service, tokens["kim"]["refresh_token"])
        rotated = c.post("/auth/refresh", json={"refresh_token": tokens["lou"]["refresh_token"]})
        assert rotated.status_code == 200, rotated.text
        kinds = {
            "unknown": "not-a-token-" + "x" * 40,
            "revoked by logout": tokens["hal"]["refresh_token"],
            "of a disabled account": tokens["ida"]["refresh_token"],
            "of a deleted account": tokens["jon"]["refresh_token"],
            "expired": tokens["kim"]["refresh_token"],
        }
        as_json = {k: c.post("/auth/refresh", json={"refresh_token": t}) for k, t in kinds.items()}
        as_form = {
            k: c.post("/auth/token", data={"grant_type": "refresh_token", "refresh_token": t})
            for k, t in kinds.items()
        }
        # Reuse last: it revokes lou's family, which is no one else's concern.
        as_json["reused"] = c.post(
            "/auth/refresh", json={"refresh_token": tokens["lou"]["refresh_token"]}
        )
    for answers in (as_json, as_form):
        first = _full(answers["unknown"])
        assert first[0] == 400 and json.loads(first[2])["error"] == "invalid_grant"
        for what, answer in answers.items():
            assert _full(answer) == first, what


class _CountingHasher(PasswordHasher):
    """The real hasher, counting the checks of its own parameters spent on no account's
    hash (what an unknown name and a wrong password against a legacy hash cost)."""

    spent = 0

    def _spend_dummy(self, candidates: tuple[bytes, ...]) -> None:
        type(self).spent += 1
        super()._spend_dummy(candidates)


def test_a_disabled_accounts_right_password_costs_the_work_of_a_wrong_one(
    tmp_path: Path,
) -> None:
    hasher = _CountingHasher("test")

    async def scenario(accounts: Accounts) -> None:
        await accounts.store.create_user("hank", _pbkdf2_hash(PASSWORD), ["users:me"])
        admin = AccountAdmin(
            accounts.store, accounts.revocations, accounts.hasher, access_token_ttl=900
        )
        await admin.disable("hank")
        spent = {}
        for what, given in (("wrong", "not the password 1"), ("right", PASSWORD)):
            _CountingHasher.spent = 0
            with pytest.raises(sessions.LoginFailed):
                await sessions.login(accounts, "hank", given, ADDRESS, [])
            spent[what] = _CountingHasher.spent
        # The legacy hash's check, then the hasher's own, on both; no upgrade on either.
        assert spent == {"wrong": 1, "right": 1}
        user = await accounts.store.user_by_name("hank")
        assert user is not None and user.password_hash == _pbkdf2_hash(PASSWORD)

    run_accounts(tmp_path, scenario, hasher=hasher)
