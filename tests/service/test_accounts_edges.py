"""Sign-in edges an outside tester finds: logout, logins racing a password reset, the
time an unknown name costs, and input that is no Unicode text."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sealbox.accounts import AccountPolicy, Accounts, make_engine, sessions
from sealbox.accounts.store import Store
from sealbox.passwords import PasswordHasher
from sealbox.service.db import sessionmaker
from tests._accounts import run_accounts
from tests.service._entry_compare import service_app
from tests.service.conftest import PASSWORD, bearer, login, register

NEW_PASSWORD = "canary-reset-password-77aa"


def run(tmp_path: Path, scenario: Any, hasher: PasswordHasher | None = None) -> None:
    """Run ``scenario(accounts)`` on new accounts, their throttle out of the way."""
    policy = AccountPolicy(throttle_user_attempts=1000, throttle_address_attempts=1000)
    run_accounts(tmp_path, scenario, policy, hasher=hasher)


# -- logout ---------------------------------------------------------------------------


def test_logout_with_a_stale_or_unknown_refresh_token_still_ends_the_callers_session(
    service,
) -> None:
    with service.client() as c:
        register(c, "leaver")
        tokens = login(c, "leaver").json()
        h = bearer(tokens["access_token"])
        # The client lost its refresh token (or sends a mistyped one): the logout answers
        # 204, so the session of this access token must be over, its refresh token too.
        r = c.post("/auth/logout", json={"refresh_token": "sbr_not-a-token"}, headers=h)
        assert r.status_code == 204
        assert c.get("/users/me", headers=h).status_code == 401
        r = c.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
        other = login(c, "leaver").json()  # another session is not touched
        assert c.get("/users/me", headers=bearer(other["access_token"])).status_code == 200


# -- a login racing a password reset ---------------------------------------------------


def _pbkdf2_hash(password: str) -> str:
    """A Django pbkdf2_sha256 hash of ``password`` (a scheme sealbox upgrades at login)."""
    salt, iterations = "w8Hj2kLq9Zx1", 1000
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(digest).decode()}"


def test_a_login_racing_a_password_reset_neither_undoes_the_reset_nor_keeps_a_session(
    service,
) -> None:
    from sealbox.service import administer_accounts

    async def create() -> None:
        engine = make_engine(service.settings.resolved_database_url())
        store = Store(sessionmaker(engine), refresh_ttl=60)
        # An imported account: its hash is upgraded at the next login.
        await store.create_user("migrant", _pbkdf2_hash(PASSWORD), ["users:me"])
        await engine.dispose()

    asyncio.run(create())
    answered: dict[str, Any] = {}

    def racing_login() -> None:
        with service.client() as c:
            answered["login"] = login(c, "migrant")

    # The race is made to happen, not hoped for. The service's hashing threads are kept
    # busy, so the login, once it has read the account, waits with its password check in
    # their queue; the reset lands then, and only once it is in the database does the
    # login go on: its check of the old hash, its upgrade of it, its session.
    pool = service_app(service).state.runtime.hash_pool
    held, started = threading.Event(), threading.Semaphore(0)

    def hold() -> None:
        started.release()
        held.wait(60)

    thread = threading.Thread(target=racing_login)
    try:
        for _ in range(pool._max_workers):
            pool.submit(hold)
        for _ in range(pool._max_workers):
            assert started.acquire(timeout=30)  # every hashing thread is held
        thread.start()
        _wait_until(lambda: pool._work_queue.qsize() == 1, thread)  # the check waits
        administer_accounts(
            service.settings, lambda admin: admin.reset_password("migrant", NEW_PASSWORD)
        )
        assert thread.is_alive(), "the reset must land while the login runs"
    finally:
        held.set()
        if thread.ident is not None:
            thread.join(60)
    racing = answered["login"]
    assert racing.status_code == 400 and racing.json()["error"] == "invalid_grant"
    records = [json.loads(line) for line in service.audit().splitlines()]
    migrant = [
        (r["event"], r["outcome"], r.get("detail")) for r in records if r.get("user") == "migrant"
    ]
    # Refused for the reset it raced (the old password was right when it was read), and
    # no upgrade of the old hash was written over the new one.
    assert ("login", "failure", "sessions ended") in migrant
    assert not [r for r in migrant if r[0] == "rehash"]
    with service.client() as c:
        # The login's upgrade of the old hash did not write the old password back.
        assert login(c, "migrant").status_code == 400, "the old password works again"
        assert login(c, "migrant", NEW_PASSWORD).status_code == 200


def _wait_until(condition: Callable[[], bool], login: threading.Thread) -> None:
    """Wait until ``condition`` holds, while the ``login`` thread runs."""
    deadline = time.monotonic() + 30
    while not condition():
        assert login.is_alive(), "the login ended first"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_start_session_refuses_an_account_read_before_its_sessions_ended(tmp_path: Path) -> None:
    async def scenario(accounts: Accounts) -> None:
        user = await sessions.register(accounts, "stale", PASSWORD, "192.0.2.9")
        issued = await sessions.start_session(accounts, user)
        caller = await accounts.authenticate(issued.access_token)
        await sessions.change_password(accounts, caller, PASSWORD, NEW_PASSWORD, "192.0.2.9")
        with pytest.raises(sessions.LoginFailed):
            await sessions.start_session(accounts, user)  # ``user`` predates the change
        fresh = await accounts.store.user_by_id(user.id)
        assert fresh is not None
        await accounts.authenticate((await sessions.start_session(accounts, fresh)).access_token)

    run(tmp_path, scenario)


# -- timing parity ---------------------------------------------------------------------


# -- input that is no Unicode text -----------------------------------------------------


def test_lone_surrogates_given_to_the_session_functions_are_refusals_not_encoding_errors(
    tmp_path: Path,
) -> None:
    # Another framework than FastAPI may hand them over as they came (json.loads keeps
    # "\ud800"): each answer is the function's documented refusal, never a crash.
    async def scenario(accounts: Accounts) -> None:
        await sessions.register(accounts, "alice", PASSWORD, "192.0.2.4")
        with pytest.raises(sessions.LoginFailed):
            await sessions.login(accounts, "al\ud800ice", PASSWORD, "192.0.2.4", [])
        with pytest.raises(sessions.LoginFailed):
            await sessions.refresh(accounts, "sbr_\ud800", "192.0.2.4")
        with pytest.raises(sessions.WeakPasswordError):
            await sessions.register(accounts, "bob", "correct \ud800 horse", "192.0.2.4")
        issued = await sessions.login(accounts, "alice", PASSWORD, "192.0.2.4", [])
        caller = await accounts.authenticate(issued.access_token)
        with pytest.raises(sessions.WeakPasswordError):
            await sessions.change_password(
                accounts, caller, PASSWORD, "new \ud800 password", "192.0.2.4"
            )
        await sessions.logout(accounts, caller, "sbr_\udc00", "192.0.2.4")
        with pytest.raises(sessions.LoginFailed):  # the logout still ended the session
            await sessions.refresh(accounts, issued.refresh_token, "192.0.2.4")

    run(tmp_path, scenario)
