"""A password change whose account was deleted after its token was issued costs the work of
a wrong password: one Argon2 check of the hasher's own parameters (the unknown name's dummy
check, as at login), not none. Else the answer's speed would tell a deleted account from a
wrong password. No clock is read: the hasher counts the checks it is asked for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sealbox.accounts import AccountPolicy, Accounts, sessions
from sealbox.accounts.admin import AccountAdmin
from sealbox.passwords import PasswordHasher
from tests._accounts import run_accounts
from tests.service.conftest import PASSWORD

ADDRESS = "192.0.2.7"


class CountingHasher(PasswordHasher):
    """The test profile's hasher, noting each check it runs."""

    def __init__(self) -> None:
        super().__init__("test")
        self.checks: list[str] = []

    def verify(self, hash: str | bytes, password: Any) -> Any:
        self.checks.append("verify")
        return super().verify(hash, password)

    def verify_dummy(self, password: Any) -> Any:
        self.checks.append("verify_dummy")
        return super().verify_dummy(password)


def test_a_password_change_of_a_deleted_account_costs_a_wrong_passwords_check(
    tmp_path: Path,
) -> None:
    hasher = CountingHasher()

    async def scenario(accounts: Accounts) -> None:
        callers = {}
        for name in ("stays", "leaves"):
            await sessions.register(accounts, name, PASSWORD, ADDRESS)
            issued = await sessions.login(accounts, name, PASSWORD, ADDRESS, [])
            callers[name] = await accounts.authenticate(issued.access_token)
        admin = AccountAdmin(accounts.store, accounts.revocations, hasher, access_token_ttl=60)
        await admin.delete("leaves")  # after its token was checked: a request in flight

        hasher.checks.clear()
        with pytest.raises(sessions.CurrentPasswordError):
            await sessions.change_password(
                accounts, callers["stays"], "not the password", "new password 1", ADDRESS
            )
        assert hasher.checks == ["verify"]

        hasher.checks.clear()
        with pytest.raises(sessions.CurrentPasswordError):
            await sessions.change_password(
                accounts, callers["leaves"], PASSWORD, "new password 1", ADDRESS
            )
        assert hasher.checks == ["verify_dummy"]  # the same one check's work

    policy = AccountPolicy(throttle_user_attempts=1000, throttle_address_attempts=1000)
    run_accounts(tmp_path, scenario, policy, hasher=hasher)
