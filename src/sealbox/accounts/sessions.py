"""Sessions: log in, refresh, log out — without any web framework.

Every function takes an :class:`~sealbox.accounts.core.Accounts` and decides: throttling,
the password check, the granted scope, the refresh-family rules, the audit records. The
routes of :mod:`sealbox.integrations.fastapi` (and so ``sealbox serve``) only parse
requests, call these, and map the outcomes below to answers; any other Python code can
call them the same way.

- **Throttling.** An attempt is counted against the username and the client address
  before the password is checked, atomically with the check of the limit
  (:mod:`sealbox.accounts.throttle`); past either limit the answer is
  :class:`Throttled`. A success gives the address's count back and clears the
  username's (an account older than the username rules, whose name shares its canonical
  form's counter, clears only its own spelling's: :mod:`sealbox.accounts.attempts`).
  Registrations count against the address. A Redis that does not answer the count refuses
  the attempt (:class:`~sealbox.exceptions.StoreUnavailableError`); one that does not
  answer a success's give-back leaves the attempt counted until its window ends and the
  success stands (its code is spent: a login sent again would find it used). A database
  that does not answer the account's lookup gives the attempt's counts back: no password
  was checked, and a client retrying through an outage is no guesser.
- **Accounts' passwords.** Registering an account and changing its password (and the
  rules a new password meets) are :mod:`sealbox.accounts.registration`'s, importable from
  here as before.
- **Scope.** A login grants the scopes asked for that the account holds (all of them
  when none are asked for). The refresh family keeps that grant: a refresh answers it
  again, narrowed by what the account still holds and by what the refresh asks for,
  and never more (RFC 6749 §6).
- **Families.** Every access token names its refresh family (``sid``): revoking the
  family (reuse detected, logout) refuses the access tokens issued from it at once. A
  family ends at its absolute lifetime (``refresh_family_ttl``, counted from its login),
  and so do its access tokens: one issued by a login or refresh less than an access-token
  lifetime before that end expires at it (``exp`` and ``expires_in`` cut short).
- **Timing.** An unknown username costs the same Argon2 work as a wrong password and
  gets the same answer (:class:`LoginFailed`). So does an account whose stored hash
  cannot be checked (above the cost ceiling, malformed, of a scheme not verified or whose
  extra is not installed); the operator is told why: the failure's audit record has the
  ``detail`` ``stored hash unusable: <scheme> (<code>)`` and a warning is logged
  (``sealbox.accounts``) with the account id, never the hash.
- **Disabled accounts** get the answer and the work of a wrong password: the password is
  checked as any other's (a right one upgrades no stored hash and costs what a wrong one
  would: :mod:`sealbox.accounts.password_check`), then the login is refused
  (:class:`AccountDisabled`, a :class:`LoginFailed` of the same message, before any second
  factor), so no answer tells a disabled account, or a right password of one, from an
  unknown name or a wrong password, and the attempt stays counted by the throttle. The
  operator is told: the audit record's ``outcome`` is ``disabled`` (``failure`` for a
  wrong password) and an info line is logged (``sealbox.accounts``) with the account id.
  Its next refresh is refused as an unknown token's.
- **Second factor.** With :attr:`Accounts.totp <sealbox.accounts.core.Accounts.totp>`,
  an account that confirmed a TOTP enrolment logs in with a code (or a recovery code)
  too, checked after the password: none is :class:`~sealbox.accounts.totp.TotpError`
  ``mfa_required``, a wrong one :class:`LoginFailed` (audited as a ``failure`` with
  ``detail`` ``second factor``: the password was right). Without it (no TOTP sealer, as
  for an app beside ``sealbox serve`` on its tables), an account that confirmed a factor
  is refused, :class:`LoginFailed` (audited with ``detail`` ``second factor unavailable``,
  and a warning naming the account id): its password alone never logs in.
- **Binding.** A login or refresh over mutual TLS (``bound_to``: the certificate's
  ``x5t#S256``) issues an access token bound to that certificate (RFC 8705 §3). A login
  over mutual TLS without a client also binds its refresh family, which is then refreshed
  only with the same certificate (§4: the first-party client is public). A family issued
  to a client is the client's instead (§7.1): the client's authentication at each refresh
  binds it, so the client may renew its certificate and keep refreshing, each access
  token bound to the certificate of its own refresh.
- **Clients.** A login or session started for a registered client that authenticated
  (``client_id``) issues tokens to it: the access token's ``client_id`` is the client's,
  and the refresh family is bound to it (RFC 6749 §6, §10.4). A family is refreshed only
  by the client it was issued to, and one issued without a client only without one;
  anything else is :class:`LoginFailed`, the same answer as an unknown token, and changes
  nothing (audited as ``wrong_client``).
- **Audit.** A change's record commits with it (:class:`~sealbox.accounts.audit.ChangeRecord`):
  a login's (with its second factor's code spent), a refresh's rotation, a reuse's
  revocation, a logout's. An audit log that refuses the record
  (:class:`~sealbox.accounts.audit.AuditUnavailableError`) rolls the change back: the
  refused refresh's token stays good for the client's retry, never taken for a reuse.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from sealbox.accounts.attempts import (
    Throttled,
    attempt_succeeded,
    attempt_unchecked,
    throttle_attempt,
)
from sealbox.accounts.audit import ChangeRecord
from sealbox.accounts.binding import cnf_claim
from sealbox.accounts.core import DEFAULT_SCOPES, Accounts, Caller
from sealbox.accounts.models import User
from sealbox.accounts.password_check import check_password, checked_password
from sealbox.accounts.refresh_rules import RefreshOutcome
from sealbox.accounts.registration import (
    MAX_PASSWORD,
    MIN_PASSWORD,
    CurrentPasswordError,
    RegistrationClosedError,
    UsernameUnavailableError,
    WeakPasswordError,
    change_password,
    check_new_password,
    register,
)
from sealbox.accounts.revocation import after_commit, kept_until
from sealbox.accounts.store import SessionsEndedError
from sealbox.accounts.totp import TotpError
from sealbox.accounts.totp_store import has_confirmed_factor
from sealbox.exceptions import SealboxError, StoreUnavailableError

log = logging.getLogger("sealbox.accounts")

__all__ = [
    "DEFAULT_SCOPES",
    "MAX_PASSWORD",
    "MIN_PASSWORD",
    "AccountDisabled",
    "CurrentPasswordError",
    "IssuedTokens",
    "LoginFailed",
    "RegistrationClosedError",
    "ScopeRefused",
    "Throttled",
    "UsernameUnavailableError",
    "WeakPasswordError",
    "attempt_succeeded",
    "change_password",
    "check_new_password",
    "check_password",
    "issue_tokens",
    "login",
    "logout",
    "refresh",
    "register",
    "revoke_family_access",
    "start_session",
    "throttle_attempt",
]


_BAD_LOGIN = "invalid username or password"


class LoginFailed(SealboxError):  # noqa: N818 - an outcome, named as before
    """The username and password, or the refresh token, did not grant anything."""

    code = "invalid_grant"


class AccountDisabled(LoginFailed):
    """The password was right, but the account is disabled (checked after the password).

    Its message is a wrong password's (``facts["reason"]`` is ``account_disabled``, for
    the operator): answered to a client, it tells nothing a wrong password does not.
    """

    def __init__(self) -> None:
        super().__init__(_BAD_LOGIN, facts={"reason": "account_disabled"})


class ScopeRefused(SealboxError):  # noqa: N818 - an outcome, named as before
    """A refresh asked for a scope beyond the family's grant."""

    code = "invalid_scope"


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    """What a login or refresh answers."""

    access_token: str
    refresh_token: str
    expires_in: int
    scope: tuple[str, ...]
    user: User

    def __repr__(self) -> str:
        # Never the tokens themselves.
        return (
            f"IssuedTokens(user={self.user.username!r}, scope={self.scope!r}, "
            f"expires_in={self.expires_in})"
        )


def issue_tokens(
    accounts: Accounts,
    user: User,
    scope: tuple[str, ...],
    refresh_token: str,
    family_id: str,
    *,
    bound_to: str | None = None,
    client_id: str | None = None,
    family_ends_at: datetime | None = None,
) -> IssuedTokens:
    """Sign an access token for ``user`` (``uid``, session version ``sv``, family ``sid``,
    and ``cnf`` when ``bound_to`` names a client certificate's thumbprint); its
    ``client_id`` is ``client_id``, the registered client it is issued to, or the policy's
    first-party client id when there is none.

    ``family_ends_at``: when the refresh family ends; the access token expires no later
    (its ``exp``, and the ``expires_in`` answered, are cut short to it), so that no token
    of a family outlives it."""
    p = accounts.policy
    at = time.time()
    ttl = p.access_token_ttl
    if family_ends_at is not None:
        # Whole seconds, as exp is (iat is the issue time's): at least 1, the least a
        # token lives, for a family with less than a second left.
        ttl = max(1, min(ttl, int(family_ends_at.timestamp()) - int(at)))
    claims: dict[str, object] = {
        "client_id": client_id if client_id is not None else p.client_id,
        "uid": user.id,
        "sv": user.session_version,
        "sid": family_id,
    }
    if bound_to is not None:
        claims.update(cnf_claim(bound_to))
    access = accounts.keyset.issue(
        user.username,
        audience=p.audience,
        issuer=p.issuer,
        ttl=ttl,
        scope=list(scope),
        claims=claims,
        now=at,
    )
    return IssuedTokens(access, refresh_token, ttl, scope, user)


def _left_out(user: User) -> str | None:
    """The audit detail of an account whose stored scopes hold values that are not
    scopes (:class:`~sealbox.accounts.models.HeldScopes`), left out of its tokens."""
    count = getattr(user.scopes, "left_out", 0)
    if not count:
        return None
    values = "1 stored value that is" if count == 1 else f"{count} stored values that are"
    return f"left out {values} no scope"


def _granted(held: list[str], asked: list[str]) -> tuple[str, ...]:
    if not asked:
        return tuple(sorted(held))
    return tuple(s for s in dict.fromkeys(asked) if s in held)


async def start_session(
    accounts: Accounts,
    user: User,
    scopes: Collection[str] = (),
    *,
    bound_to: str | None = None,
    client_id: str | None = None,
    client_version: int | None = None,
    before_commit: Callable[[AsyncSession], Awaitable[None]] | None = None,
) -> IssuedTokens:
    """Open a refresh family for ``user`` and issue its first tokens (no password checked).

    For code that has authenticated the user some other way. ``scopes`` narrows the
    grant to those the account holds (all of them when empty); ``bound_to`` (a client
    certificate's ``x5t#S256``) binds the access token to that certificate, and the
    family too when no ``client_id`` is given; ``client_id`` (a registered client that
    authenticated) issues them to that client, which alone may refresh the family;
    ``client_version``, the client's session version when it authenticated
    (:attr:`~sealbox.accounts.clients.ClientInfo.session_version`): if the client was
    disabled or its tokens ended since, no session is opened (:class:`LoginFailed`);
    ``before_commit``: awaited in the transaction that stores the family, before it
    commits (the login's audit record, say): raising stores nothing.
    """
    scope = _granted(user.scopes, list(scopes))
    # Taken before the family's first token is stored: its end, counted from that token's
    # creation, is no earlier than this one.
    ends_at = datetime.now(UTC) + timedelta(seconds=accounts.policy.refresh_family_ttl)
    left_out = _left_out(user)
    if left_out is not None:
        # Never the values: written outside sealbox, they may hold anything.
        log.warning(
            "account %r (id %s): %s from its tokens; a grant or revoke of any scope "
            "writes back its valid ones",
            user.username,
            user.id,
            left_out,
        )
    try:
        token, family = await accounts.store.issue_refresh(
            user.id,
            " ".join(scope),
            bound_to=bound_to,
            session_version=user.session_version,
            client_id=client_id,
            family_ttl=accounts.policy.refresh_family_ttl,
            client_version=client_version,
            before_commit=before_commit,
        )
    except SessionsEndedError:
        # The password was changed or reset, or the account disabled, since ``user`` was
        # read (a login racing it), or the client's tokens ended since it authenticated:
        # its tokens would outlive the change.
        raise LoginFailed("the account's sessions ended") from None
    return issue_tokens(
        accounts,
        user,
        scope,
        token,
        family,
        bound_to=bound_to,
        client_id=client_id,
        family_ends_at=ends_at,
    )


async def login(
    accounts: Accounts,
    username: str,
    password: str,
    address: str,
    scopes: list[str],
    *,
    bound_to: str | None = None,
    otp: str | None = None,
    client_id: str | None = None,
    client_version: int | None = None,
) -> IssuedTokens:
    """The password grant; ``otp``, a TOTP or recovery code, for accounts with a second factor;
    ``client_id``, the registered client that authenticated (``None``: none did), and
    ``client_version`` its session version then (:func:`start_session`).

    Raises:
        Throttled: past the username's or the address's limit (no password checked).
        LoginFailed: unknown user or wrong password (the same work and answer); a
            wrong, replayed or used code (checked only after the password); a password
            change, reset or disabling of the account while its password was checked,
            or the client disabled or its tokens ended (with ``client_version``).
        AccountDisabled: the right password of a disabled account (a
            :class:`LoginFailed` of the same message: tell no client apart).
        TotpError: ``mfa_required``, the password was right and ``otp`` is missing.
        ScopeRefused: ``scopes`` names none of the scopes the account holds (checked
            after the password and the second factor, whose right code is then left
            unspent; a token of no scope would be of no use). Some of them is a
            narrower grant, as RFC 6749 §3.3 allows.
    """
    try:
        attempt = await throttle_attempt(accounts, address, username)
    except Throttled:
        accounts.audit.record("login", outcome="throttled", user=username, address=address)
        raise
    try:
        user = await accounts.store.user_for_login(username)
    except StoreUnavailableError:
        await attempt_unchecked(accounts, address, username, attempt)  # no password checked
        raise
    right, unusable = await checked_password(accounts, user, password, address)
    if not right or user is None:
        accounts.audit.record(
            "login", outcome="failure", user=username, address=address, detail=unusable
        )
        raise LoginFailed("invalid username or password")
    if user.disabled:
        # The client hears a wrong password's answer, after a wrong password's work (no
        # hash is upgraded for a disabled account: checked_password); the operator, why.
        accounts.audit.record("login", outcome="disabled", user=user.username, address=address)
        log.info("account %s is disabled: its login is refused", user.id)
        raise AccountDisabled
    # The code is checked here and spent only with the session it opens: a login refused
    # for its scope, or for an audit log that takes no record, leaves it good for the next
    # (a client asking for the wrong scope would otherwise use up the recovery codes).
    await _second_factor(accounts, user, otp, address)
    if bool(scopes) and not _granted(user.scopes, list(scopes)):
        await attempt_succeeded(
            accounts, address, username, attempt, account=user.username, event="login"
        )
        accounts.audit.record("login", outcome="invalid_scope", user=user.username, address=address)
        raise ScopeRefused("the account holds none of the scopes asked for")
    record = ChangeRecord(accounts.audit, "login", user=user.username, address=address)
    spent: list[TotpError] = []

    async def spend_and_record(session: AsyncSession) -> None:
        # The code spent, the family stored and the record written commit together, or
        # none of them does.
        if accounts.totp is not None:
            try:
                await accounts.totp.check_login_in(session, user.id, otp)
            except TotpError as exc:
                spent.append(exc)  # the code was used by another login meanwhile
                raise LoginFailed("invalid username or password") from None
        record.write(detail=_left_out(user))

    try:
        with record:
            issued = await start_session(
                accounts,
                user,
                scopes,
                bound_to=bound_to,
                client_id=client_id,
                client_version=client_version,
                before_commit=spend_and_record,
            )
    except LoginFailed:
        # A password change, reset or disabling overtook this login, or another spent its
        # code: no session, and the audit log says so.
        why = "second factor" if spent else "sessions ended"
        accounts.audit.record(
            "login", outcome="failure", user=user.username, address=address, detail=why
        )
        raise
    await accounts.store.record_login(user.id)
    await attempt_succeeded(
        accounts, address, username, attempt, account=user.username, event="login"
    )
    return issued


async def _second_factor(accounts: Accounts, user: User, otp: str | None, address: str) -> None:
    # The attempt stays counted by the throttle until the code is accepted too.
    if accounts.totp is None:
        # No sealer here to check a code with (an app on the service's tables, say): an
        # account that confirmed a factor is refused, never let in on its password alone.
        if await has_confirmed_factor(accounts.store.sessions, user.id):
            log.warning(
                "account %s has a second factor, but these accounts have no TOTP sealer "
                "to check its code: its login is refused",
                user.id,
            )
            accounts.audit.record(
                "login",
                outcome="failure",
                user=user.username,
                address=address,
                detail="second factor unavailable",
            )
            raise LoginFailed("invalid username or password")
        return
    try:
        await accounts.totp.check_login(user.id, otp, spend=False)
    except TotpError as exc:
        if exc.code == "mfa_required":
            accounts.audit.record(
                "login", outcome="mfa_required", user=user.username, address=address
            )
            raise
        # The client hears what a wrong password gets; the log tells them apart, since a
        # wrong code after the right password means the password is known to whoever sent
        # it. Never the code itself.
        accounts.audit.record(
            "login", outcome="failure", user=user.username, address=address, detail="second factor"
        )
        raise LoginFailed("invalid username or password") from None


async def refresh(
    accounts: Accounts,
    refresh_token: str,
    address: str,
    scopes: list[str] | None = None,
    *,
    bound_to: str | None = None,
    client_id: str | None = None,
) -> IssuedTokens:
    """The refresh grant: rotate the token, keep (or narrow) the family's scope.

    ``bound_to``: the ``x5t#S256`` of the connection's client certificate (mutual TLS),
    which the new access token is bound to; a family begun over mutual TLS without a
    client is refreshed only with the same certificate (one issued to a client, with any).
    ``client_id``: the registered client that authenticated (``None``: none did); a
    family is refreshed only by the client it was issued to, or without one if it was
    issued without one (RFC 6749 §6).

    Raises:
        LoginFailed: an unknown, expired, revoked or reused token (a reused one
            revokes its family, and the access tokens issued from it, first), one of a
            bound family without its certificate, one issued to another client or to
            none (nothing changes: the family lives on), or a disabled account's.
        ScopeRefused: ``scopes`` asks for more than the family was granted, or for a
            scope the account no longer holds (nothing changes: the token stays live).
    """
    p = accounts.policy
    record = ChangeRecord(accounts.audit, "refresh", user=None, address=address)

    def before_commit(done: RefreshOutcome) -> None:
        # Written before the rotation (or the reuse's revocation) commits: a record refused
        # rolls it back, and the same token sent again is redeemed as if it never came.
        named = done.user.username if done.user is not None else None
        if done.status == "reused":
            record.write("reuse_detected", user=named, detail="family revoked")
        elif done.user is not None and done.user.disabled:
            record.write("disabled", user=named)
        else:
            record.write("retried" if done.retried else "success", user=named)

    with record:
        outcome = await accounts.store.use_refresh(
            refresh_token,
            p.refresh_reuse_grace,
            scopes,
            presented=bound_to,
            client_id=client_id,
            family_ttl=p.refresh_family_ttl,
            before_commit=before_commit,
        )
    if outcome.status == "wrong_client":
        # Not the client the family was issued to: it cannot redeem the token, so this is
        # no reuse by a holder, and the family lives on (revoking it would hand whoever saw
        # the token a way to end the session). Written down for the operator to judge.
        accounts.audit.record(
            "refresh",
            outcome="wrong_client",
            user=outcome.owner,
            address=address,
            detail=f"issued to {outcome.client_id or p.client_id}, "
            f"presented by {client_id or 'no client'}",
        )
        raise LoginFailed("the refresh token is not valid")
    if outcome.status == "invalid_scope":
        # The token stays valid: asking for too much is a client's mistake, not theft.
        named = outcome.user.username if outcome.user is not None else None
        accounts.audit.record("refresh", outcome="invalid_scope", user=named, address=address)
        raise ScopeRefused("a refresh may narrow the granted scope, never widen it")
    if outcome.status == "reused":
        # Recorded already: the family's refresh tokens are revoked in the database, even
        # when Redis does not take the access tokens' refusal here.
        if outcome.family_id is not None:
            with after_commit():
                await revoke_family_access(accounts, outcome.family_id)
        raise LoginFailed("the refresh token is not valid")
    if outcome.status != "ok" or outcome.user is None or outcome.token is None:
        named = outcome.user.username if outcome.user is not None else None
        accounts.audit.record("refresh", outcome="failure", user=named, address=address)
        raise LoginFailed("the refresh token is not valid")
    if outcome.user.disabled:
        raise LoginFailed("the refresh token is not valid")  # recorded as "disabled"
    user = outcome.user
    held = list(user.scopes)
    family_scope = held if outcome.scope is None else outcome.scope.split()
    # What the account no longer holds is dropped; what the family never had is not added.
    scope = tuple(x for x in dict.fromkeys(scopes or family_scope) if x in held)
    assert outcome.family_id is not None
    return issue_tokens(
        accounts,
        user,
        scope,
        outcome.token,
        outcome.family_id,
        bound_to=bound_to,
        client_id=outcome.client_id,
        family_ends_at=outcome.ends_at,
    )


async def revoke_family_access(accounts: Accounts, family_id: str) -> None:
    """Refuse the access tokens of a refresh family for as long as any can live."""
    until = kept_until(accounts.policy.access_token_ttl)
    await accounts.revocations.revoke_family(family_id, until)


async def logout(accounts: Accounts, caller: Caller, refresh_token: str, address: str) -> None:
    """End the caller's session: revoke the refresh family its access token was issued from
    (``sid``) and the refresh token's family (if it is the caller's), their access tokens,
    and the caller's own access token.

    The access token's own family ends whatever refresh token is given (a stale, mistyped
    or lost one): a logout answered as done leaves no refresh token of the session alive.
    Both families end in one transaction with the logout's audit record: a record refused
    ends no session.
    """
    own = caller.claims.get("sid")
    own = own if isinstance(own, str) else None
    record = ChangeRecord(accounts.audit, "logout", user=caller.username, address=address)
    with record:
        family = await accounts.store.revoke_family_of(
            refresh_token, caller.user_id, also=own, before_commit=record.write
        )
    with after_commit():  # the session is ended: a refusal not stored does not undo it
        for ended in dict.fromkeys(f for f in (family, own) if f is not None):
            await revoke_family_access(accounts, ended)
        await accounts.revocations.revoke(caller.jti, datetime.fromtimestamp(caller.expires, UTC))
