"""Ending a client's tokens (disabling it, rotating its secret with the tokens ended) leaves
no user session of a password login through it that raced the change, on SQLite and on
PostgreSQL with Redis.

The change refuses the tokens of the client's version and the refresh families of its
users' logins (the ``end`` the HTTP route passes), then commits. The races are placed
deterministically: a login made inside ``end`` (after the families were read, before the
commit), and a login whose client authenticated before the change and whose family is
stored after it. Nothing sleeps.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from sealbox.accounts import Accounts, sessions
from sealbox.accounts.clients import ClientInfo, ClientStore, EndTokens
from sealbox.accounts.grants import is_revoked
from sealbox.accounts.sessions import IssuedTokens, LoginFailed
from sealbox.service.routes.client_ending import ender
from tests._accounts import run_accounts_on

PASSWORD = "canary-client-end-race-password-5b2c"
ADDRESS = "192.0.2.44"

Scenario = Callable[[Accounts], Awaitable[None]]


@pytest.fixture(params=["sqlite", "postgres"])
def on_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[Scenario], None]:
    """Runs a scenario on new accounts of the backend (PostgreSQL: a database of its own)."""

    def run(scenario: Scenario) -> None:
        run_accounts_on(request.param, tmp_path, scenario, name="cer")

    return run


def _clients(accounts: Accounts) -> ClientStore:
    assert accounts.clients is not None
    return accounts.clients


def _route_end(accounts: Accounts) -> EndTokens:
    """The ``end`` the ``/clients`` routes pass (only the runtime's accounts are read)."""
    return ender(SimpleNamespace(accounts=accounts))  # type: ignore[arg-type]


async def _login(accounts: Accounts, username: str, client: ClientInfo) -> IssuedTokens:
    """A password login through ``client``, as it authenticated (the token route's)."""
    return await sessions.login(
        accounts,
        username,
        PASSWORD,
        ADDRESS,
        [],
        client_id=client.client_id,
        client_version=client.session_version,
    )


def _claims(token: str) -> dict[str, Any]:
    """The claims of an access token this test was issued (its signature is the issuer's)."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


async def _ended(accounts: Accounts, issued: IssuedTokens, client_id: str) -> bool:
    """Whether the session is over: its access token refused and its refresh token dead."""
    refused = await is_revoked(accounts.revocations, _claims(issued.access_token))
    outcome = await accounts.store.use_refresh(issued.refresh_token, client_id=client_id)
    return refused and outcome.status != "ok"


async def _setup(accounts: Accounts, *users: str) -> tuple[ClientInfo, str]:
    for user in users:
        await sessions.register(accounts, user, PASSWORD, ADDRESS)
    made = await _clients(accounts).create("frontend", ["users:me"])
    assert made.secret is not None
    secret = made.secret.expose_secret()
    client = await _clients(accounts).authenticate_secret(made.client.client_id, secret)
    assert client is not None
    return client, secret


def test_a_login_made_while_a_client_is_disabled_is_ended_with_it(on_backend) -> None:
    async def scenario(accounts: Accounts) -> None:
        client, _ = await _setup(accounts, "ann", "bob")
        before = await _login(accounts, "ann", client)
        raced: list[IssuedTokens] = []
        real_end = _route_end(accounts)

        async def end(found: ClientInfo) -> None:
            await real_end(found)
            if not raced:  # after the families were read, before the commit
                raced.append(await _login(accounts, "bob", client))

        disabled = await _clients(accounts).disable("frontend", end)
        assert disabled.disabled
        assert await _ended(accounts, before, client.client_id)
        assert await _ended(accounts, raced[0], client.client_id)

    on_backend(scenario)


def test_a_login_through_a_client_disabled_after_it_authenticated_opens_no_session(
    on_backend,
) -> None:
    async def scenario(accounts: Accounts) -> None:
        client, _ = await _setup(accounts, "cat")
        # Authenticated (above) before the change; the password checked and the family
        # stored after it.
        await _clients(accounts).disable("frontend", _route_end(accounts))
        with pytest.raises(LoginFailed):
            await _login(accounts, "cat", client)

    on_backend(scenario)


def test_rotating_with_the_tokens_ended_ends_the_logins_begun_before_only(on_backend) -> None:
    async def scenario(accounts: Accounts) -> None:
        client, _ = await _setup(accounts, "dan", "eve", "fox")
        raced: list[IssuedTokens] = []
        real_end = _route_end(accounts)

        async def end(found: ClientInfo) -> None:
            await real_end(found)
            if not raced:
                raced.append(await _login(accounts, "dan", client))

        rotated = await _clients(accounts).rotate_secret("frontend", 0, end=end)
        assert rotated.secret is not None
        assert await _ended(accounts, raced[0], client.client_id)
        # Authenticated with the old secret before the rotation: no session after it.
        with pytest.raises(LoginFailed):
            await _login(accounts, "eve", client)
        # The new secret's logins pass, and keep passing.
        new = await _clients(accounts).authenticate_secret(
            client.client_id, rotated.secret.expose_secret()
        )
        assert new is not None
        kept = await _login(accounts, "fox", new)
        assert not await is_revoked(accounts.revocations, _claims(kept.access_token))
        outcome = await accounts.store.use_refresh(kept.refresh_token, client_id=new.client_id)
        assert outcome.status == "ok"

    on_backend(scenario)
