"""No token outlives its refresh family's end (``AccountPolicy.refresh_family_ttl``): the
access token a login or refresh issues near that end expires at it (its ``exp`` and the
``expires_in`` answered agree), and introspection (RFC 7662) answers ``active: false`` for
a token of an ended family whatever its own expiry says — one issued before the family
lifetime existed, or under a longer one. On SQLite, and on PostgreSQL with Redis; the
clock moved is the store's (``sealbox.accounts.store.now``), never slept."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from sealbox.accounts import AccountPolicy, Accounts, sessions
from sealbox.accounts import store as store_module
from sealbox.accounts.grants import introspect
from sealbox.accounts.models import RefreshToken, now
from sealbox.accounts.store import hash_refresh_token
from tests._accounts import run_accounts_on

PASSWORD = "canary-family-end-password-3b9c"
HOUR = 3600
FIRST_PARTY = "sealbox-first-party"


def _clock(monkeypatch: pytest.MonkeyPatch, at: datetime) -> None:
    monkeypatch.setattr(store_module, "now", lambda: at)


def _claims(accounts: Accounts, token: str) -> dict[str, Any]:
    return dict(accounts.verifier.verify(token))


async def _introspect(accounts: Accounts, token: str, at: float | None = None) -> dict[str, Any]:
    return await introspect(
        token,
        caller_id=FIRST_PARTY,
        caller_scopes=("tokens:introspect",),
        verifier=accounts.verifier,
        revocations=accounts.revocations,
        sessions=accounts.store.sessions,
        first_party_client_id=FIRST_PARTY,
        family_ttl=accounts.policy.refresh_family_ttl,
        at=at,
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_last_refresh_before_a_familys_end_issues_an_access_token_ending_with_it(
    tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = AccountPolicy(access_token_ttl=900, refresh_family_ttl=HOUR)

    async def scenario(accounts: Accounts) -> None:
        await sessions.register(accounts, "ivo", PASSWORD, "192.0.2.1")
        begun = now() - timedelta(minutes=55)  # the family ends in 5 minutes
        _clock(monkeypatch, begun)
        first = await sessions.login(accounts, "ivo", PASSWORD, "192.0.2.1", [])
        _clock(monkeypatch, now())
        issued = await sessions.refresh(accounts, first.refresh_token, "192.0.2.1")
        end = int((begun + timedelta(seconds=HOUR)).timestamp())
        claims = _claims(accounts, issued.access_token)
        assert claims["exp"] == end
        assert issued.expires_in == claims["exp"] - claims["iat"] < 900
        answer = await _introspect(accounts, issued.access_token)
        assert answer["active"] is True
        assert answer["exp"] == end
        # Past the family's end nothing of it is live, by introspection's clock too.
        assert await _introspect(accounts, issued.access_token, at=end + 1) == {"active": False}

    run_accounts_on(backend, tmp_path, scenario, policy, name="famend")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_login_into_a_family_shorter_than_an_access_token_ends_its_token_with_it(
    tmp_path: Path, backend: str
) -> None:
    policy = AccountPolicy(access_token_ttl=900, refresh_family_ttl=120)

    async def scenario(accounts: Accounts) -> None:
        await sessions.register(accounts, "jon", PASSWORD, "192.0.2.1")
        before = int(time.time())
        issued = await sessions.login(accounts, "jon", PASSWORD, "192.0.2.1", [])
        claims = _claims(accounts, issued.access_token)
        assert claims["exp"] <= before + 121
        assert issued.expires_in == claims["exp"] - claims["iat"]

    run_accounts_on(backend, tmp_path, scenario, policy, name="famlogin")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_tokens_of_a_family_ended_since_they_were_issued_introspect_as_inactive(
    tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issued under no family lifetime (as before it existed) and then the lifetime set
    # shorter than the family's age: the access token's exp and the refresh token's
    # expiry are both later than the family's end, which refuses them all the same.
    async def scenario(accounts: Accounts) -> None:
        await sessions.register(accounts, "kai", PASSWORD, "192.0.2.1")
        issued = await sessions.login(accounts, "kai", PASSWORD, "192.0.2.1", [])
        assert (await _introspect(accounts, issued.access_token))["active"] is True
        assert (await _introspect(accounts, issued.refresh_token))["active"] is True
        # The family began two hours ago; its tokens were stored with no end.
        began = now() - timedelta(hours=2)
        async with accounts.store.sessions.begin() as session:
            await session.execute(
                update(RefreshToken)
                .where(RefreshToken.token_hash == hash_refresh_token(issued.refresh_token))
                .values(created_at=began, expires_at=now() + timedelta(days=20))
            )
        accounts.policy = dataclasses.replace(accounts.policy, refresh_family_ttl=HOUR)
        assert _claims(accounts, issued.access_token)["exp"] > time.time()
        assert await _introspect(accounts, issued.access_token) == {"active": False}
        assert await _introspect(accounts, issued.refresh_token) == {"active": False}
        # As a refresh is refused: introspection and the token endpoint agree.
        with pytest.raises(sessions.LoginFailed):
            await sessions.refresh(accounts, issued.refresh_token, "192.0.2.1")
        # Within a longer lifetime the family lives on, and its refresh token answers the
        # family's end as its exp when that comes before its own expiry.
        accounts.policy = dataclasses.replace(accounts.policy, refresh_family_ttl=3 * HOUR)
        answer = await _introspect(accounts, issued.refresh_token)
        assert answer["active"] is True
        assert answer["exp"] == int((began + timedelta(hours=3)).timestamp())
        assert datetime.fromtimestamp(answer["exp"], UTC) < now() + timedelta(hours=2)

    run_accounts_on(
        backend, tmp_path, scenario, AccountPolicy(refresh_family_ttl=30 * 24 * HOUR), name="fampre"
    )
