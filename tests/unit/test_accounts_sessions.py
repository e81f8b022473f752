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
from tests._accounts import run_accounts, run_accounts_on
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


async def _legacy_account(accounts: Accounts, name: str) -> None:
    """An account made before the username rules, under a name they would have changed
    (the upgrade keeps it when another account holds its canonical form)."""
    from sealbox.accounts.models import User

    password_hash = await accounts.run_hasher(accounts.hasher.hash, PASSWORD)
    async with accounts.store.sessions.begin() as session:
        session.add(User(username=name, password_hash=password_hash, scopes=["users:me"]))


def _run_on(backend: str, tmp_path: Path, scenario: Any) -> None:
    """``scenario`` on SQLite with counters in memory, or on PostgreSQL with them in Redis
    (a database and key prefix of this test's own)."""
    policy = AccountPolicy(issuer="https://orders.example", audience="orders")
    run_accounts_on(backend, tmp_path, scenario, policy, name="legacy")


async def _guesses(accounts: Accounts, name: str, first: int, count: int) -> list[str]:
    """``count`` wrong passwords for ``name``, each from an address of its own (only the
    username's counters can stop them): how each was answered."""
    outcomes = []
    for n in range(first, first + count):
        try:
            await sessions.login(accounts, name, "wrong-password", f"198.51.100.{n}", [])
        except sessions.LoginFailed:
            outcomes.append("failed")
        except sessions.Throttled:
            outcomes.append("throttled")
    return outcomes


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_legacy_account_logging_in_does_not_clear_the_guesses_against_its_canonical_twin(
    tmp_path: Path, backend: str
) -> None:
    # "Alice" (older than the username rules) and "alice" count against one username
    # counter; whoever owns "Alice" must not wipe the wrong guesses made against "alice".
    async def scenario(accounts: Accounts) -> None:
        await sessions.register(accounts, "alice", PASSWORD, "192.0.2.10")
        await _legacy_account(accounts, "Alice")
        assert await _guesses(accounts, "alice", 1, 4) == ["failed"] * 4
        await sessions.login(accounts, "Alice", PASSWORD, "192.0.2.11", [])
        assert await _guesses(accounts, "alice", 5, 2) == ["failed", "throttled"]

    _run_on(backend, tmp_path, scenario)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_canonical_account_logging_in_does_not_clear_the_guesses_against_a_legacy_twin(
    tmp_path: Path, backend: str
) -> None:
    async def scenario(accounts: Accounts) -> None:
        await sessions.register(accounts, "alice", PASSWORD, "192.0.2.10")
        await _legacy_account(accounts, "Alice")
        assert await _guesses(accounts, "Alice", 1, 4) == ["failed"] * 4
        await sessions.login(accounts, "alice", PASSWORD, "192.0.2.11", [])
        assert await _guesses(accounts, "Alice", 5, 2) == ["failed", "throttled"]

    _run_on(backend, tmp_path, scenario)


def test_a_success_still_clears_its_own_accounts_wrong_guesses_under_any_spelling(
    tmp_path: Path,
) -> None:
    async def scenario(accounts: Accounts) -> None:
        await sessions.register(accounts, "alice", PASSWORD, "192.0.2.10")
        await _legacy_account(accounts, "Alice")
        # The owner of "alice" mistyped (under two spellings), then logged in.
        assert await _guesses(accounts, "ALICE", 1, 2) == ["failed"] * 2
        assert await _guesses(accounts, "alice", 3, 2) == ["failed"] * 2
        await sessions.login(accounts, "ALICE", PASSWORD, "192.0.2.11", [])
        assert await _guesses(accounts, "alice", 5, 6) == ["failed"] * 5 + ["throttled"]

    run(tmp_path, scenario)


def test_a_deleted_accounts_token_that_outlived_a_lost_revocation_changes_no_new_accounts_password(
    tmp_path: Path,
) -> None:
    # The delete was committed, but Redis did not answer the revocation of its sessions
    # (the command line says so: revocation_incomplete, the access tokens may pass until
    # they expire). SQLite then gives the freed id to a new account: the old token names
    # that id with the old name, and must not act on the new account.
    require_server("Redis", 6379)
    from sealbox.accounts.admin import AccountAdmin
    from sealbox.accounts.revocation import RedisRevocations
    from sealbox.exceptions import StoreUnavailableError
    from tests.service.conftest import free_port

    async def scenario(accounts: Accounts) -> None:
        await sessions.register(accounts, "early", PASSWORD, "192.0.2.20")
        gone = await sessions.register(accounts, "gone", PASSWORD, "192.0.2.20")
        old = await sessions.login(accounts, "gone", PASSWORD, "192.0.2.20", [])
        unreachable = RedisRevocations(accounts.store, f"redis://127.0.0.1:{free_port()}/0")
        admin = AccountAdmin(accounts.store, unreachable, accounts.hasher, access_token_ttl=900)
        with pytest.raises(StoreUnavailableError):
            await admin.delete("gone")
        await unreachable.close()
        newcomer = await sessions.register(accounts, "newcomer", PASSWORD, "192.0.2.21")
        assert newcomer.id == gone.id  # SQLite reuses the highest freed id
        caller = await accounts.authenticate(old.access_token)  # the lost revocation
        assert (caller.user_id, caller.username) == (newcomer.id, "gone")
        with pytest.raises(sessions.CurrentPasswordError):
            await sessions.change_password(
                accounts, caller, PASSWORD, "canary-takeover-password-3f70", "192.0.2.22"
            )
        # The old refresh token went with the account's rows.
        with pytest.raises(sessions.LoginFailed):
            await sessions.refresh(accounts, old.refresh_token, "192.0.2.22")
        await sessions.login(accounts, "newcomer", PASSWORD, "192.0.2.21", [])

    run(tmp_path, scenario, redis_url=REDIS_URL, redis_prefix=f"{REDIS_PREFIX}{tmp_path.name}:")


def test_a_refused_password_change_gives_back_no_wrong_guesses_at_the_username(
    tmp_path: Path,
) -> None:
    # Whoever holds an access token and the password could otherwise clear the guesses
    # counted against the username (wrong second-factor codes, say) as often as they
    # like, by asking for a new password the policy refuses: nothing changes, so the
    # owner sees nothing, and the limit never bites.
    async def scenario(accounts: Accounts) -> None:
        await sessions.register(accounts, "carol", PASSWORD, "192.0.2.30")
        caller = await accounts.authenticate(
            (await sessions.login(accounts, "carol", PASSWORD, "192.0.2.30", [])).access_token
        )
        for _ in range(3):
            with pytest.raises(sessions.LoginFailed):
                await sessions.login(accounts, "carol", "a wrong guess", "192.0.2.31", [])
        with pytest.raises(sessions.WeakPasswordError):
            await sessions.change_password(accounts, caller, PASSWORD, "carol", "192.0.2.32")
        # 3 wrong guesses and the refused change: the fifth attempt is the last allowed.
        with pytest.raises(sessions.LoginFailed):
            await sessions.login(accounts, "carol", "a wrong guess", "192.0.2.33", [])
        with pytest.raises(sessions.Throttled):
            await sessions.login(accounts, "carol", PASSWORD, "192.0.2.34", [])

    run(tmp_path, scenario)


def test_a_password_change_that_succeeds_forgives_the_wrong_guesses_at_the_username(
    tmp_path: Path,
) -> None:
    async def scenario(accounts: Accounts) -> None:
        await sessions.register(accounts, "dave", PASSWORD, "192.0.2.40")
        caller = await accounts.authenticate(
            (await sessions.login(accounts, "dave", PASSWORD, "192.0.2.40", [])).access_token
        )
        for _ in range(4):
            with pytest.raises(sessions.LoginFailed):
                await sessions.login(accounts, "dave", "a wrong guess", "192.0.2.41", [])
        new = "canary-new-password-77d1"
        await sessions.change_password(accounts, caller, PASSWORD, new, "192.0.2.42")
        for _ in range(4):
            with pytest.raises(sessions.LoginFailed):
                await sessions.login(accounts, "dave", "a wrong guess", "192.0.2.43", [])
        await sessions.login(accounts, "dave", new, "192.0.2.44", [])

    run(tmp_path, scenario)
