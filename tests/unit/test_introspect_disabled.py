"""A refresh token of a disabled account introspects as ``{"active": false}``, as its
refresh is refused, also when the account was disabled by writing the flag alone (no
revocation marked its tokens). On SQLite, and on PostgreSQL with Redis."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update

from sealbox.accounts import Accounts, sessions
from sealbox.accounts.grants import introspect
from sealbox.accounts.models import User
from tests._accounts import run_accounts_on

PASSWORD = "canary-introspect-disabled-5e2a"
FIRST_PARTY = "sealbox-first-party"


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_disabled_accounts_refresh_token_introspects_as_inactive(
    tmp_path: Path, backend: str
) -> None:
    async def scenario(accounts: Accounts) -> None:
        user = await sessions.register(accounts, "lea", PASSWORD, "192.0.2.1")
        issued = await sessions.login(accounts, "lea", PASSWORD, "192.0.2.1", [])

        async def answer() -> dict[str, object]:
            return await introspect(
                issued.refresh_token,
                caller_id=FIRST_PARTY,
                caller_scopes=("tokens:introspect",),
                verifier=accounts.verifier,
                revocations=accounts.revocations,
                sessions=accounts.store.sessions,
                first_party_client_id=FIRST_PARTY,
            )

        assert (await answer())["active"] is True
        async with accounts.store.sessions.begin() as session:
            await session.execute(update(User).where(User.id == user.id).values(disabled=True))
        assert await answer() == {"active": False}
        with pytest.raises(sessions.LoginFailed):
            await sessions.refresh(accounts, issued.refresh_token, "192.0.2.1")

    run_accounts_on(backend, tmp_path, scenario, name="introdis")
