"""The account features decided by the library, without a web framework: a disabled
account, the TOTP second factor on Accounts.totp, certificate-bound tokens and client
tokens in Accounts.authenticate."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from sealbox.accounts import Accounts, sessions
from sealbox.accounts.admin import AccountAdmin
from sealbox.accounts.binding import certificate_thumbprint
from sealbox.accounts.grants import issue_client_token
from sealbox.accounts.totp import TotpError, TotpSecretSealer, decode_secret, totp
from sealbox.exceptions import TokenError
from tests._accounts import run_accounts

PASSWORD = "canary-ported-password-7d21"
ADDRESS = "192.0.2.9"


def run(tmp_path: Path, scenario: Callable[[Accounts], Awaitable[None]]) -> None:
    run_accounts(tmp_path, scenario, totp_sealer=TotpSecretSealer(os.urandom(32)))


def test_a_disabled_account_is_refused_after_the_password_and_at_its_next_refresh(
    tmp_path: Path,
) -> None:
    async def scenario(accounts: Accounts) -> None:
        await sessions.register(accounts, "bob", PASSWORD, ADDRESS)
        issued = await sessions.login(accounts, "bob", PASSWORD, ADDRESS, [])
        admin = AccountAdmin(
            accounts.store, accounts.revocations, accounts.hasher, access_token_ttl=900
        )
        await admin.disable("bob")
        with pytest.raises(sessions.AccountDisabled):
            await sessions.login(accounts, "bob", PASSWORD, ADDRESS, [])
        with pytest.raises(sessions.LoginFailed) as wrong:
            await sessions.login(accounts, "bob", "not the password", ADDRESS, [])
        assert not isinstance(wrong.value, sessions.AccountDisabled)
        with pytest.raises(sessions.LoginFailed):
            await sessions.refresh(accounts, issued.refresh_token, ADDRESS)

    run(tmp_path, scenario)


def test_a_confirmed_second_factor_asks_for_a_code_and_takes_a_right_one_once(
    tmp_path: Path,
) -> None:
    async def scenario(accounts: Accounts) -> None:
        assert accounts.totp is not None
        user = await sessions.register(accounts, "carol", PASSWORD, ADDRESS)
        enrolment = await accounts.totp.begin(user.id, user.username)
        key = decode_secret(enrolment.secret)
        await accounts.totp.confirm(user.id, totp(key, time.time()))
        with pytest.raises(TotpError) as missing:
            await sessions.login(accounts, "carol", PASSWORD, ADDRESS, [])
        assert missing.value.code == "mfa_required"
        with pytest.raises(sessions.LoginFailed):
            await sessions.login(accounts, "carol", PASSWORD, ADDRESS, [], otp="000000x")
        # The confirming code was spent: the next step's code logs in.
        code = totp(key, time.time() + 30)
        issued = await sessions.login(accounts, "carol", PASSWORD, ADDRESS, [], otp=code)
        assert issued.user.username == "carol"
        with pytest.raises(sessions.LoginFailed):
            await sessions.login(accounts, "carol", PASSWORD, ADDRESS, [], otp=code)

    run(tmp_path, scenario)


def test_a_bound_token_authenticates_only_with_its_certificates_thumbprint(
    tmp_path: Path,
) -> None:
    mine = certificate_thumbprint(b"certificate A, DER")
    other = certificate_thumbprint(b"certificate B, DER")

    async def scenario(accounts: Accounts) -> None:
        await sessions.register(accounts, "dave", PASSWORD, ADDRESS)
        issued = await sessions.login(accounts, "dave", PASSWORD, ADDRESS, [], bound_to=mine)
        caller = await accounts.authenticate(issued.access_token, thumbprint=mine)
        assert caller.claims["cnf"] == {"x5t#S256": mine}
        for given in (None, other):
            with pytest.raises(TokenError) as refused:
                await accounts.authenticate(issued.access_token, thumbprint=given)
            assert refused.value.code == "token_binding_mismatch"
        # The refresh family is bound too.
        with pytest.raises(sessions.LoginFailed):
            await sessions.refresh(accounts, issued.refresh_token, ADDRESS, bound_to=other)
        again = await sessions.refresh(accounts, issued.refresh_token, ADDRESS, bound_to=mine)
        await accounts.authenticate(again.access_token, thumbprint=mine)

    run(tmp_path, scenario)


def test_a_client_token_authenticates_as_a_caller_without_an_account(tmp_path: Path) -> None:
    async def scenario(accounts: Accounts) -> None:
        assert accounts.clients is not None
        made = await accounts.clients.create("reporting", ["transit:encrypt:orders"])
        p = accounts.policy
        issued = issue_client_token(
            accounts.keyset,
            made.client,
            [],
            issuer=p.issuer,
            audience=p.audience,
            ttl=p.access_token_ttl,
        )
        caller = await accounts.authenticate(issued.access_token)
        assert caller.client_id == made.client.client_id == caller.username
        assert caller.user_id == 0
        assert caller.scopes == frozenset({"transit:encrypt:orders"})

    run(tmp_path, scenario)
