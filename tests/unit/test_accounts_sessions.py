"""sealbox.accounts without any web framework: an Accounts object over a migrated SQLite file,
and the session functions that sealbox serve and the FastAPI integration call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sealbox.accounts import AccountPolicy, Accounts, sessions
from sealbox.accounts.core import LEEWAY
from sealbox.exceptions import TokenError
from sealbox.jwt import JWKSet, TokenVerifier
from tests._accounts import run_accounts
from tests.service.conftest import REDIS_PREFIX, REDIS_URL, require_server

PASSWORD = "canary-accounts-password-41c9"


def run(tmp_path: Path, scenario: Any, **options: Any) -> None:
    """Run ``scenario(accounts)`` on new accounts (``options`` go to ``Accounts.open``)."""
    policy = AccountPolicy(issuer="https://orders.example", audience="orders")
    run_accounts(tmp_path, scenario, policy, **options)


def test_register_login_and_the_access_token_verifies_with_the_published_keys(
    tmp_path: Path,
) -> None:
    async def scenario(accounts: Accounts) -> None:
        user = await sessions.register(accounts, "Alice", PASSWORD, "192.0.2.1")
        assert user.username == "alice"  # RFC 8265 canonical form
        issued = await sessions.login(accounts, "alice", PASSWORD, "192.0.2.1", [])
        assert issued.scope == ("users:me",)
        caller = await accounts.authenticate(issued.access_token)
        assert (caller.username, caller.user_id) == ("alice", user.id)
        jwks = JWKSet.from_dict(accounts.public_jwks())
        verifier = TokenVerifier(jwks, audience="orders", issuer="https://orders.example")
        assert verifier.verify(issued.access_token)["sid"]

    run(tmp_path, scenario)


def test_a_session_started_by_code_rotates_and_a_reused_refresh_token_ends_it(
    tmp_path: Path,
) -> None:
    async def scenario(accounts: Accounts) -> None:
        user = await sessions.register(accounts, "bob", PASSWORD, "192.0.2.2")
        first = await sessions.start_session(accounts, user)
        second = await sessions.refresh(accounts, first.refresh_token, "192.0.2.2")
        assert second.refresh_token != first.refresh_token
        await accounts.authenticate(second.access_token)
        with pytest.raises(sessions.LoginFailed):
            await sessions.refresh(accounts, first.refresh_token, "192.0.2.2")
        with pytest.raises(TokenError) as refused:
            await accounts.authenticate(second.access_token)
        assert refused.value.code == "token_revoked"

    run(tmp_path, scenario)


def test_unknown_users_and_wrong_passwords_fail_alike_and_get_throttled(tmp_path: Path) -> None:
    async def scenario(accounts: Accounts) -> None:
        await sessions.register(accounts, "carol", PASSWORD, "192.0.2.3")
        outcomes = []
        for name in ("nobody", "carol", "nobody", "carol", "carol", "carol", "carol", "carol"):
            try:
                await sessions.login(accounts, name, "wrong-password", "192.0.2.3", [])
            except sessions.LoginFailed as exc:
                outcomes.append(str(exc))
            except sessions.Throttled as exc:
                outcomes.append(f"throttled {exc.retry_after > 0}")
        # The same answer for both; carol's sixth attempt is past her limit (5 per window).
        assert outcomes[:7] == ["invalid username or password"] * 7
        assert outcomes[7] == "throttled True"

    run(tmp_path, scenario)


def test_the_address_limit_counts_an_ipv6_slash_64_as_one_client(tmp_path: Path) -> None:
    async def scenario(accounts: Accounts) -> None:
        limit = accounts.policy.throttle_address_attempts
        # One host of a /64 picks a new address for every attempt (each a new username).
        for n in range(limit):
            await sessions.throttle_attempt(accounts, f"2001:db8:1:2::{n + 1:x}", f"user{n}")
        with pytest.raises(sessions.Throttled):
            await sessions.throttle_attempt(accounts, "2001:db8:1:2:ffff::9", "another")
        # Another /64 is another client.
        await sessions.throttle_attempt(accounts, "2001:db8:1:3::1", "another")
        # An IPv4 address counts as itself, written as IPv6 or not.
        for n in range(limit):
            await sessions.throttle_attempt(accounts, "192.0.2.77", f"v4user{n}")
        with pytest.raises(sessions.Throttled):
            await sessions.throttle_attempt(accounts, "::ffff:192.0.2.77", "v4another")

    run(tmp_path, scenario)


def test_the_policy_refuses_weak_passwords_look_alikes_and_closed_registration(
    tmp_path: Path,
) -> None:
    async def scenario(accounts: Accounts) -> None:
        with pytest.raises(sessions.WeakPasswordError, match="8 to 1024"):
            await sessions.register(accounts, "dave", "short", "192.0.2.4")
        await sessions.register(accounts, "dave", PASSWORD, "192.0.2.4")
        with pytest.raises(sessions.UsernameUnavailableError):
            await sessions.register(accounts, "d\u0430ve", PASSWORD, "192.0.2.4")  # Cyrillic a
        accounts.policy = AccountPolicy(open_registration=False)
        with pytest.raises(sessions.RegistrationClosedError):
            await sessions.register(accounts, "erin", PASSWORD, "192.0.2.4")

    run(tmp_path, scenario)


def test_no_token_or_password_shows_in_reprs(tmp_path: Path) -> None:
    async def scenario(accounts: Accounts) -> None:
        await sessions.register(accounts, "frank", PASSWORD, "192.0.2.5")
        issued = await sessions.login(accounts, "frank", PASSWORD, "192.0.2.5", [])
        for text in (repr(issued), str(issued), repr(accounts)):
            assert issued.access_token not in text
            assert issued.refresh_token not in text
            assert PASSWORD not in text

    run(tmp_path, scenario)


def _forged(token: str) -> str:
    """``token`` with one character in the middle of its signature changed."""
    at = token.rindex(".") + 20
    return token[:at] + ("B" if token[at] != "B" else "C") + token[at + 1 :]


def test_the_check_without_waiting_gives_the_caller_refuses_alike_and_never_guesses(
    tmp_path: Path,
) -> None:
    async def scenario(accounts: Accounts) -> None:
        user = await sessions.register(accounts, "carol", PASSWORD, "192.0.2.3")
        first = await sessions.start_session(accounts, user)
        caller = accounts.authenticate_now(first.access_token)
        assert caller is not None
        assert caller == await accounts.authenticate(first.access_token)
        with pytest.raises(TokenError) as forged:
            accounts.authenticate_now(_forged(first.access_token))
        assert forged.value.code == "invalid_token"
        second = await sessions.refresh(accounts, first.refresh_token, "192.0.2.3")
        with pytest.raises(sessions.LoginFailed):
            await sessions.refresh(accounts, first.refresh_token, "192.0.2.3")  # reuse
        with pytest.raises(TokenError) as revoked:
            accounts.authenticate_now(second.access_token)
        assert revoked.value.code == "token_revoked"

    run(tmp_path, scenario)


def test_the_check_without_waiting_still_refuses_a_known_token_once_expired_or_unbound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # authenticate_now answers a token it has seen without re-verifying it: its time
    # window and its certificate binding must still be checked on every call.
    async def scenario(accounts: Accounts) -> None:
        user = await sessions.register(accounts, "erin", PASSWORD, "192.0.2.5")
        plain = await sessions.start_session(accounts, user)
        caller = accounts.authenticate_now(plain.access_token)
        assert caller is not None
        bound = await sessions.start_session(accounts, user, bound_to="A" * 43)
        assert accounts.authenticate_now(bound.access_token, thumbprint="A" * 43) is not None
        for thumbprint in (None, "B" * 43):
            with pytest.raises(TokenError) as unbound:
                accounts.authenticate_now(bound.access_token, thumbprint=thumbprint)
            assert unbound.value.code == "token_binding_mismatch"
        later = caller.expires + LEEWAY + 1  # past the verifier's leeway too
        monkeypatch.setattr("sealbox.accounts.core.time.time", lambda: later)
        with pytest.raises(TokenError) as expired:
            accounts.authenticate_now(plain.access_token)
        assert expired.value.code == "invalid_token"

    run(tmp_path, scenario)


def test_with_the_lists_in_redis_the_check_without_waiting_leaves_it_to_authenticate(
    tmp_path: Path,
) -> None:
    require_server("Redis", 6379)

    async def scenario(accounts: Accounts) -> None:
        user = await sessions.register(accounts, "dave", PASSWORD, "192.0.2.4")
        issued = await sessions.start_session(accounts, user)
        assert accounts.authenticate_now(issued.access_token) is None
        assert (await accounts.authenticate(issued.access_token)).user_id == user.id

    run(tmp_path, scenario, redis_url=REDIS_URL, redis_prefix=REDIS_PREFIX)


def test_a_login_that_a_password_change_overtakes_is_audited_as_failed_not_as_success(
    tmp_path: Path,
) -> None:
    # The password was right when read, but the account's sessions ended (a password
    # change) before the session was opened: the client gets invalid_grant, and the audit
    # log must not say the login succeeded.
    records: list[tuple[str, str]] = []

    class Sink:
        def record(self, event: str, *, outcome: str, **_: Any) -> None:
            records.append((event, outcome))

    async def scenario(accounts: Accounts) -> None:
        await sessions.register(accounts, "dora", PASSWORD, "192.0.2.4")
        accounts.audit = Sink()
        read = accounts.store.user_for_login

        async def read_then_changed(name: str) -> Any:
            user = await read(name)
            # A password change lands while this login checks the old password.
            await accounts.store.change_password(user.id, "$argon2id$changed-meanwhile")
            return user

        accounts.store.user_for_login = read_then_changed  # type: ignore[method-assign]
        with pytest.raises(sessions.LoginFailed):
            await sessions.login(accounts, "dora", PASSWORD, "192.0.2.4", [])

    run(tmp_path, scenario)
    assert ("login", "success") not in records
    assert records == [("login", "failure")]
