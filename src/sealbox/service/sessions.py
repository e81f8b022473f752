"""Sessions: login, refresh and the tokens they answer, without any web framework.

The HTTP routes in :mod:`sealbox.service.routes.auth` parse requests and call these;
everything that decides — throttling, the password check, the granted scope, the
refresh-family rules, the audit records — lives here.

- **Throttling.** An attempt is counted against the username and the client address
  before the password is checked, atomically with the check of the limit
  (:mod:`sealbox.accounts.throttle`); past either limit the answer is
  :class:`Throttled`. A success gives the address's count back and clears the
  username's. Registrations count against the address.
- **Scope.** A login grants the scopes asked for that the account holds (all of them
  when none are asked for). The refresh family keeps that grant: a refresh answers it
  again, narrowed by what the account still holds and by what the refresh asks for,
  and never more (RFC 6749 §6).
- **Families.** Every access token names its refresh family (``sid``): revoking the
  family (reuse detected, logout) refuses the access tokens issued from it at once.
- **Binding.** A login or refresh over mutual TLS (``bound_to``: the certificate's
  ``x5t#S256``) issues an access token bound to that certificate (RFC 8705 §3); a login
  over mutual TLS also binds its refresh family, which is then refreshed only with the
  same certificate (§4: the first-party client is public).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from sealbox.accounts.binding import cnf_claim
from sealbox.accounts.store import RefreshOutcome
from sealbox.accounts.totp import TotpError
from sealbox.accounts.usernames import lookup_key
from sealbox.exceptions import PasswordMismatchError, SealboxError
from sealbox.service.db import User
from sealbox.service.runtime import Runtime

__all__ = [
    "DEFAULT_SCOPES",
    "AccountDisabled",
    "IssuedTokens",
    "LoginFailed",
    "ScopeRefused",
    "Throttled",
    "attempt_succeeded",
    "check_password",
    "issue_tokens",
    "login",
    "refresh",
    "revoke_family_access",
    "throttle_attempt",
]

DEFAULT_SCOPES: Final = ("users:me",)


class Throttled(Exception):  # noqa: N818 - an outcome the route maps to 429, not a fault
    """Too many attempts: ``retry_after`` seconds to wait."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("too many attempts")
        self.retry_after = retry_after


class LoginFailed(Exception):  # noqa: N818 - an outcome the route maps to invalid_grant
    """The username and password, or the refresh token, did not grant anything."""


class AccountDisabled(LoginFailed):
    """The password was right, but the account is disabled (checked after the password)."""


class ScopeRefused(Exception):  # noqa: N818 - an outcome the route maps to invalid_scope
    """A refresh asked for a scope beyond the family's grant."""


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    """What a login or refresh answers."""

    access_token: str
    refresh_token: str
    expires_in: int
    scope: tuple[str, ...]
    user: User


def _user_key(name: str) -> str:
    return f"user:{lookup_key(name) or name}"


def _address_key(address: str) -> str:
    return f"addr:{address}"


async def throttle_attempt(runtime: Runtime, address: str, username: str | None = None) -> None:
    """Count an attempt for the address (and the username); raise :class:`Throttled` past a limit.

    The attempt stays counted (a failure) unless :func:`attempt_succeeded` gives it back.
    """
    s = runtime.settings
    limits = [(_address_key(address), s.throttle_address_attempts)]
    if username is not None:
        limits.insert(0, (_user_key(username), s.throttle_user_attempts))
    wait = await runtime.throttle.acquire(limits, s.throttle_window)
    if wait:
        raise Throttled(wait)


async def attempt_succeeded(runtime: Runtime, address: str, username: str) -> None:
    """An attempt went well: give the address's count back, clear the username's."""
    await runtime.throttle.settle(clear=[_user_key(username)], give_back=[_address_key(address)])


async def check_password(runtime: Runtime, user: User | None, password: str) -> bool:
    """Verify off the event loop; upgrade the stored hash when it is due."""
    hasher = runtime.hasher
    if user is None:
        # Same work as a real check, same answer: no oracle for unknown names.
        with contextlib.suppress(SealboxError):
            await runtime.run_hasher(hasher.verify_dummy, password)
        return False
    try:
        check = await runtime.run_hasher(hasher.verify, user.password_hash, password)
    except PasswordMismatchError:
        return False
    except SealboxError:
        # An unusable stored hash: refuse the login, say nothing more to the client.
        return False
    if check.needs_rehash:
        new_hash = await runtime.run_hasher(hasher.hash, password)
        await runtime.store.set_password_hash(user.id, new_hash)
        runtime.audit.record("rehash", outcome="success", user=user.username, detail=check.scheme)
    return True


def issue_tokens(
    runtime: Runtime,
    user: User,
    scope: tuple[str, ...],
    refresh_token: str,
    family_id: str,
    *,
    bound_to: str | None = None,
) -> IssuedTokens:
    """Sign an access token for ``user`` (``uid``, session version ``sv``, family ``sid``,
    and ``cnf`` when ``bound_to`` names a client certificate's thumbprint)."""
    s = runtime.settings
    claims: dict[str, object] = {
        "client_id": s.first_party_client_id,
        "uid": user.id,
        "sv": user.session_version,
        "sid": family_id,
    }
    if bound_to is not None:
        claims.update(cnf_claim(bound_to))
    access = runtime.keyset.issue(
        user.username,
        audience=s.audience,
        issuer=s.issuer,
        ttl=s.access_token_ttl,
        scope=list(scope),
        claims=claims,
    )
    return IssuedTokens(access, refresh_token, s.access_token_ttl, scope, user)


def _granted(held: list[str], asked: list[str]) -> tuple[str, ...]:
    if not asked:
        return tuple(sorted(held))
    return tuple(s for s in dict.fromkeys(asked) if s in held)


async def login(
    runtime: Runtime,
    username: str,
    password: str,
    address: str,
    scopes: list[str],
    *,
    bound_to: str | None = None,
    otp: str | None = None,
) -> IssuedTokens:
    """The password grant; ``otp``, a TOTP or recovery code, for accounts with a second factor.

    Raises:
        Throttled: past the username's or the address's limit (no password checked).
        LoginFailed: unknown user or wrong password (the same work and answer).
        AccountDisabled: the right password of a disabled account.
            wrong, replayed or used code (checked only after the password).
        TotpError: ``mfa_required``, the password was right and ``otp`` is missing.
    """
    await throttle_attempt(runtime, address, username)
    user = await runtime.store.user_for_login(username)
    if not await check_password(runtime, user, password) or user is None:
        runtime.audit.record("login", outcome="failure", user=username, address=address)
        raise LoginFailed
    if user.disabled:
        runtime.audit.record("login", outcome="disabled", user=user.username, address=address)
        raise AccountDisabled
    await _second_factor(runtime, user, otp, address)
    await attempt_succeeded(runtime, address, username)
    await runtime.store.record_login(user.id)
    scope = _granted(user.scopes, scopes)
    runtime.audit.record("login", outcome="success", user=user.username, address=address)
    token, family = await runtime.store.issue_refresh(user.id, " ".join(scope), bound_to=bound_to)
    return issue_tokens(runtime, user, scope, token, family, bound_to=bound_to)


async def _second_factor(runtime: Runtime, user: User, otp: str | None, address: str) -> None:
    # The attempt stays counted by the throttle until the code is accepted too.
    try:
        await runtime.totp.check_login(user.id, otp)
    except TotpError as exc:
        outcome = "mfa_required" if exc.code == "mfa_required" else "failure"
        runtime.audit.record("login", outcome=outcome, user=user.username, address=address)
        if exc.code != "mfa_required":
            raise LoginFailed from None
        raise


async def refresh(
    runtime: Runtime,
    refresh_token: str,
    address: str,
    scopes: list[str] | None = None,
    *,
    bound_to: str | None = None,
) -> IssuedTokens:
    """The refresh grant: rotate the token, keep (or narrow) the family's scope.

    Raises:
        LoginFailed: an unknown, expired, revoked or reused token (a reused one
            revokes its family, and the access tokens issued from it, first).
        ScopeRefused: ``scopes`` asks for more than the family was granted.
    """
    s = runtime.settings
    outcome = await runtime.store.use_refresh(
        refresh_token, s.refresh_reuse_grace, scopes, presented=bound_to
    )
    if outcome.status == "invalid_scope":
        # The token stays valid: asking for too much is a client's mistake, not theft.
        runtime.audit.record("refresh", outcome="invalid_scope", address=address)
        raise ScopeRefused
    if outcome.status == "reused":
        await _family_revoked(runtime, outcome, address)
        raise LoginFailed
    if outcome.status != "ok" or outcome.user is None or outcome.token is None:
        runtime.audit.record("refresh", outcome="failure", address=address)
        raise LoginFailed
    if outcome.user.disabled:
        runtime.audit.record(
            "refresh", outcome="disabled", user=outcome.user.username, address=address
        )
        raise LoginFailed
    user = outcome.user
    held = list(user.scopes)
    family_scope = held if outcome.scope is None else outcome.scope.split()
    # What the account no longer holds is dropped; what the family never had is not added.
    scope = tuple(x for x in dict.fromkeys(scopes or family_scope) if x in held)
    runtime.audit.record(
        "refresh",
        outcome="retried" if outcome.retried else "success",
        user=user.username,
        address=address,
    )
    assert outcome.family_id is not None
    return issue_tokens(runtime, user, scope, outcome.token, outcome.family_id, bound_to=bound_to)


async def _family_revoked(runtime: Runtime, outcome: RefreshOutcome, address: str) -> None:
    if outcome.family_id is not None:
        await revoke_family_access(runtime, outcome.family_id)
    runtime.audit.record(
        "refresh",
        outcome="reuse_detected",
        user=outcome.user.username if outcome.user is not None else None,
        address=address,
        detail="family revoked",
    )


async def revoke_family_access(runtime: Runtime, family_id: str) -> None:
    """Refuse the access tokens of a refresh family for as long as any can live."""
    until = datetime.now(UTC).timestamp() + runtime.settings.access_token_ttl + 60
    await runtime.revocations.revoke_family(family_id, datetime.fromtimestamp(until, UTC))
