"""A refresh family's absolute lifetime (``AccountPolicy.refresh_family_ttl``,
``SEALBOX_REFRESH_FAMILY_TTL``): counted from the family's first login, after it no refresh
is accepted (the ``invalid_grant`` of an expired token), and no refresh token of the family
expires after it. On SQLite, and on PostgreSQL with Redis. The clock moved is the store's
(``sealbox.accounts.store.now``): nothing sleeps."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from sealbox.accounts import AccountPolicy, Accounts, sessions
from sealbox.accounts import store as store_module
from sealbox.accounts.models import RefreshToken, now
from sealbox.accounts.store import hash_refresh_token
from sealbox.exceptions import ConfigError
from sealbox.service.runtime import account_policy
from sealbox.service.serve import load_settings
from sealbox.service.settings import ServiceSettings
from tests._accounts import run_accounts_on

PASSWORD = "canary-family-ttl-password-7d1e"
HOUR = 3600
DAY = 24 * HOUR

Scenario = Callable[[Accounts], Awaitable[None]]


def _run_on(backend: str, tmp_path: Path, policy: AccountPolicy, scenario: Scenario) -> None:
    """``scenario`` on SQLite, or on PostgreSQL with Redis (a database of its own)."""
    run_accounts_on(backend, tmp_path, scenario, policy, name="famttl")


def _clock(monkeypatch: pytest.MonkeyPatch, at: datetime) -> None:
    monkeypatch.setattr(store_module, "now", lambda: at)


async def _row(accounts: Accounts, token: str) -> RefreshToken:
    async with accounts.store.sessions() as session:
        found = await session.execute(
            select(RefreshToken).where(RefreshToken.token_hash == hash_refresh_token(token))
        )
        return found.scalar_one()


async def _refused(accounts: Accounts, token: str) -> str:
    with pytest.raises(sessions.LoginFailed) as caught:
        await sessions.refresh(accounts, token, "192.0.2.1")
    return caught.value.code


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_family_past_its_absolute_lifetime_refuses_refresh(
    tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = AccountPolicy(refresh_family_ttl=HOUR)

    async def scenario(accounts: Accounts) -> None:
        user = await sessions.register(accounts, "fay", PASSWORD, "192.0.2.1")
        begun = now()
        _clock(monkeypatch, begun)
        first = await sessions.login(accounts, "fay", PASSWORD, "192.0.2.1", [])
        # Refreshed all along, the family still ends an hour after its login.
        token = first.refresh_token
        for minutes in (20, 40, 59):
            _clock(monkeypatch, begun + timedelta(minutes=minutes))
            token = (await sessions.refresh(accounts, token, "192.0.2.1")).refresh_token
        last = await _row(accounts, token)
        assert last.expires_at == begun + timedelta(seconds=HOUR)
        _clock(monkeypatch, begun + timedelta(seconds=HOUR + 1))
        assert await _refused(accounts, token) == "invalid_grant"
        # A new login begins a new family, of a new hour.
        again = await sessions.start_session(accounts, user)
        assert (await _row(accounts, again.refresh_token)).expires_at == begun + timedelta(
            seconds=2 * HOUR + 1
        )

    _run_on(backend, tmp_path, policy, scenario)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_token_whose_own_expiry_is_later_is_refused_at_its_familys_end(
    tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tokens issued under a longer family lifetime (or none, before it existed) expire
    # later than the family now ends: the family's end refuses them all the same.
    async def scenario(accounts: Accounts) -> None:
        user = await sessions.register(accounts, "gil", PASSWORD, "192.0.2.1")
        begun = now()
        _clock(monkeypatch, begun)
        issued = await sessions.start_session(accounts, user)
        _clock(monkeypatch, begun + timedelta(hours=2))
        kept = (await sessions.refresh(accounts, issued.refresh_token, "192.0.2.1")).refresh_token
        assert (await _row(accounts, kept)).expires_at > begun + timedelta(days=29)
        accounts.policy = dataclasses.replace(accounts.policy, refresh_family_ttl=3 * HOUR)
        _clock(monkeypatch, begun + timedelta(hours=2, minutes=59))
        kept = (await sessions.refresh(accounts, kept, "192.0.2.1")).refresh_token
        assert (await _row(accounts, kept)).expires_at == begun + timedelta(hours=3)
        accounts.policy = dataclasses.replace(accounts.policy, refresh_family_ttl=HOUR)
        assert await _refused(accounts, kept) == "invalid_grant"

    _run_on(backend, tmp_path, AccountPolicy(), scenario)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_first_token_of_a_short_family_expires_at_the_familys_end(
    tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = AccountPolicy(refresh_token_ttl=DAY, refresh_family_ttl=HOUR)

    async def scenario(accounts: Accounts) -> None:
        user = await sessions.register(accounts, "hal", PASSWORD, "192.0.2.1")
        begun = now()
        _clock(monkeypatch, begun)
        issued = await sessions.start_session(accounts, user)
        assert (await _row(accounts, issued.refresh_token)).expires_at == begun + timedelta(
            seconds=HOUR
        )

    _run_on(backend, tmp_path, policy, scenario)


def test_the_refresh_family_lifetime_setting_reaches_the_account_policy(tmp_path: Path) -> None:
    default = ServiceSettings.model_fields["refresh_family_ttl"].default
    assert default == 30 * DAY
    assert default >= ServiceSettings.model_fields["refresh_token_ttl"].default
    assert AccountPolicy().refresh_family_ttl == default
    settings = load_settings(data_dir=tmp_path, refresh_family_ttl=7 * DAY)
    assert account_policy(settings).refresh_family_ttl == 7 * DAY


def test_the_refresh_family_lifetime_is_read_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEALBOX_REFRESH_FAMILY_TTL", "86400")
    assert load_settings(data_dir=tmp_path).refresh_family_ttl == DAY


@pytest.mark.parametrize("seconds", [0, -1, 59, 3650 * DAY + 1])
def test_a_refresh_family_lifetime_out_of_bounds_is_an_invalid_setting(
    tmp_path: Path, seconds: int
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(data_dir=tmp_path / "data", refresh_family_ttl=seconds)
    assert caught.value.code == "invalid_settings"
    assert caught.value.facts["settings"] == "SEALBOX_REFRESH_FAMILY_TTL"


@pytest.mark.parametrize("seconds", [0, -5])
def test_an_account_policy_refuses_a_family_lifetime_below_one_second(seconds: int) -> None:
    with pytest.raises(ValueError, match="refresh_family_ttl"):
        AccountPolicy(refresh_family_ttl=seconds)
