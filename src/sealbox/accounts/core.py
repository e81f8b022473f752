"""One object for sign-in: :class:`Accounts` holds the store, the password hasher, the
signing keyset and its verifier, the revocation lists, the throttle and the audit sink.

:mod:`sealbox.accounts.sessions` takes it and decides every login, refresh, logout,
registration and password change; ``sealbox serve`` holds one per worker, and so does
an app using :mod:`sealbox.integrations.fastapi`. Optional parts: the TOTP second factor
(``totp``, a :class:`~sealbox.accounts.totp_store.TotpStore`: accounts that enrolled one
log in with a code too) and the OAuth 2 clients of the client credentials grant
(``clients``, a :class:`~sealbox.accounts.clients.ClientStore`). Nothing here knows a web
framework::

    engine = make_engine("sqlite+aiosqlite:///app.db")
    await migrate(engine)
    accounts = await Accounts.open(engine, SigningKeySet.generate("EdDSA"), AccountPolicy())
    issued = await sessions.login(accounts, "alice", password, address="203.0.113.7")
    caller = await accounts.authenticate(issued.access_token)

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from sealbox.accounts.audit import AuditSink
from sealbox.accounts.binding import check_binding_thumbprint
from sealbox.accounts.clients import ClientStore
from sealbox.accounts.database import sessionmaker
from sealbox.accounts.revocation import (
    LocalRevocations,
    RedisRevocations,
    Revocations,
    family_marker,
)
from sealbox.accounts.store import Store
from sealbox.accounts.throttle import LocalThrottle, RedisThrottle, Throttle
from sealbox.exceptions import SealboxError, TokenError
from sealbox.passwords import PasswordHasher

if TYPE_CHECKING:
    # Named in annotations only (the second factors are imported by open): a program
    # that imports the accounts to administer them loads no JWT or TOTP code.
    from sealbox.accounts.totp import TotpSecretSealer
    from sealbox.accounts.totp_store import TotpStore
    from sealbox.jwt import SigningKeySet, TokenVerifier
    from sealbox.jwt.keyset_watch import KeySetWatch

__all__ = [
    "DEFAULT_SCOPES",
    "AccessClaims",
    "AccountPolicy",
    "Accounts",
    "AuditSink",
    "Caller",
    "NullAudit",
    "VerifiedTokenCache",
    "caller_from_claims",
]

T = TypeVar("T")

#: The scopes every new account holds.
DEFAULT_SCOPES: Final = ("users:me",)
#: Seconds of clock skew allowed on an access token's times.
LEEWAY: Final = 5
# The lowest priority that still gets a share of a busy CPU (19); SCHED_IDLE would
# starve logins outright while other requests keep the cores busy.
HASH_NICENESS: Final = 19


@dataclass(frozen=True, slots=True)
class AccountPolicy:
    """The rules of sign-in: who issues tokens for whom, for how long, how often one may try.

    Attributes:
        issuer: ``iss`` of the access tokens (required when verifying them).
        audience: ``aud`` of the access tokens (required when verifying them).
        access_token_ttl: seconds an access token lives.
        refresh_token_ttl: seconds a refresh token lives unused.
        refresh_family_ttl: seconds after a refresh family's login after which none of
            its tokens is accepted, however often refreshed (none expires later); at
            least 1.
        refresh_reuse_grace: seconds within which a used refresh token may be presented
            again (a lost answer) without revoking its family; 0 never.
        client_id: ``client_id`` (RFC 9068) of the tokens issued to password logins.
        default_scopes: the scopes a new account holds.
        open_registration: whether anyone may register.
        throttle_user_attempts: failed attempts per username within the window.
        throttle_address_attempts: failed attempts per client address within the window.
        throttle_client_attempts: client authentications per client address within the
            window: the failed ones, and those being checked (a right secret gives its
            count back once checked). A count of its own, apart from the sign-in attempts.
        throttle_window: the window, in seconds.
        token_algorithms: the algorithms access tokens are accepted under; ``None``, the
            algorithm of each verifying key of the keyset. A service whose tokens others
            verify from its JWKS names public-key ones only, so that an HMAC key (a
            shared secret, never in the JWKS) left in its keyset verifies nothing.

    .. versionchanged:: 0.1.0
       ``token_algorithms``, ``refresh_family_ttl``.
    """

    issuer: str = "sealbox"
    audience: str = "sealbox"
    access_token_ttl: int = 15 * 60
    refresh_token_ttl: int = 30 * 24 * 3600
    # A family's absolute end: without one, refreshes slide its life on for ever.
    refresh_family_ttl: int = 30 * 24 * 3600
    refresh_reuse_grace: float = 0.0
    client_id: str = "sealbox-first-party"
    default_scopes: tuple[str, ...] = DEFAULT_SCOPES
    open_registration: bool = True
    throttle_user_attempts: int = 5
    throttle_address_attempts: int = 20
    throttle_client_attempts: int = 100
    throttle_window: int = 300
    token_algorithms: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.refresh_family_ttl < 1:
            raise ValueError("refresh_family_ttl must be at least 1 second")


class NullAudit:
    """An audit sink that keeps nothing."""

    def record(
        self,
        event: str,
        *,
        outcome: str,
        user: str | None = None,
        address: str | None = None,
        detail: str | None = None,
    ) -> None:
        return None

    def close(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """A verified access token, typed.

    Attributes:
        username: ``sub``.
        scopes: the granted scopes (``scope``, RFC 8693 §4.2).
        jti: the token's id (``""`` when the issuer sets none).
        expires: ``exp``, seconds since the epoch.
        claims: every claim, as verified.
    """

    username: str
    scopes: frozenset[str]
    jti: str
    expires: float
    claims: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Caller(AccessClaims):
    """A verified, unrevoked access token issued by :class:`Accounts`: the account's id too.

    A machine client's token (the client credentials grant) has no account behind it:
    ``client_id`` is set, ``user_id`` is 0 and ``username`` is the client id.
    """

    user_id: int
    client_id: str | None = None


def caller_from_claims(claims: dict[str, Any]) -> Caller:
    """The :class:`Caller` of verified claims that name an account (``uid``) or a client."""
    scope = claims.get("scope", "")
    uid = claims.get("uid")
    user = isinstance(uid, int)
    return Caller(
        username=claims["sub"],
        scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
        jti=claims["jti"],
        expires=float(claims["exp"]),
        claims=claims,
        user_id=uid if isinstance(uid, int) else 0,
        client_id=None if user else str(claims["client_id"]),
    )


class _Seen:
    """A verified token's :class:`Caller` and what each request checks, worked out once."""

    __slots__ = (
        "bound",
        "caller",
        "expires",
        "family_id",
        "family_key",
        "not_before",
        "session_version",
    )

    def __init__(self, caller: Caller) -> None:
        claims = caller.claims
        self.caller = caller
        self.expires = caller.expires
        nbf = claims.get("nbf", 0)
        # Refused while nbf is more than the leeway ahead (a token with a bad nbf fails
        # verification before it gets here).
        self.not_before = float(nbf) - LEEWAY if isinstance(nbf, int | float) else 0.0
        self.bound = "cnf" in claims
        family = claims.get("sid")
        self.family_id = family if isinstance(family, str) else None
        self.family_key = family_marker(self.family_id) if self.family_id is not None else None
        version = claims.get("sv", 0)
        self.session_version: int = version if isinstance(version, int) else 0


class VerifiedTokenCache:
    """Claims of access tokens whose signature was already checked, until they expire.

    Verifying an EdDSA signature costs more than the rest of a small request;
    clients send the same access token many times in its life, so the check is
    done once per token and per process. Revocation is still checked on every
    request (it is not cached). Entries are dropped oldest first past ``size``.
    """

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._claims: dict[str, dict[str, Any]] = {}

    def get(self, token: str, now: float) -> dict[str, Any] | None:
        claims = self._claims.get(token)
        if claims is None:
            return None
        if claims["exp"] <= now:
            self._claims.pop(token, None)
            return None
        return claims

    def put(self, token: str, claims: dict[str, Any]) -> None:
        if len(self._claims) >= self.size:
            # Dicts keep insertion order: drop the oldest tenth in one go.
            for key in list(self._claims)[: max(1, self.size // 10)]:
                del self._claims[key]
        self._claims[token] = claims

    def clear(self) -> None:
        """Forget every token (a key stopped verifying: each is checked again)."""
        self._claims = {}


def _background_priority() -> None:
    # Linux keeps a nice value per thread, and Argon2's lane threads inherit it:
    # hashing then takes only the CPU the event loop leaves, so a login storm does
    # not hold up every other request. Raising niceness needs no privilege.
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_NICENESS)


def hash_pool() -> ThreadPoolExecutor:
    """Threads for Argon2: one per core, at background priority."""
    return ThreadPoolExecutor(
        max_workers=os.cpu_count() or 1,
        thread_name_prefix="sealbox-hash",
        initializer=_background_priority,
    )


_NOT_VALID: Final = "the access token is not valid"
_REVOKED: Final = "the access token was revoked"
_BOUND: Final = "the access token is bound to another client certificate"
_BOUND_NONE: Final = "the access token is bound to a client certificate, and none was presented"


class Accounts:
    """Everything sign-in needs, for one process (see the module docstring).

    Args:
        store: the users and refresh-token tables.
        keyset: signs the access tokens (its public keys verify them).
        policy: issuer, audience, lifetimes, throttling limits.
        hasher: the password hasher (``PasswordHasher()`` by default).
        revocations: revoked tokens and sessions (in memory by default; load them
            with :meth:`~sealbox.accounts.revocation.Revocations.load` first).
        throttle: attempt counters (in memory by default).
        audit: where events go (nowhere by default).
        totp: the second factors; ``None``, no code can be checked, and an account that
            confirmed a factor (in a database shared with a service that has one) is
            refused at login rather than let in on its password alone.
        clients: the OAuth 2 clients; ``None``, no client credentials grant.
    """

    def __init__(
        self,
        store: Store,
        keyset: SigningKeySet,
        policy: AccountPolicy | None = None,
        *,
        hasher: PasswordHasher | None = None,
        revocations: Revocations | None = None,
        throttle: Throttle | None = None,
        audit: AuditSink | None = None,
        totp: TotpStore | None = None,
        clients: ClientStore | None = None,
    ) -> None:
        self.store = store
        self.keyset = keyset
        self.policy = policy or AccountPolicy()
        self._keyset_task: asyncio.Task[None] | None = None
        self.hasher = hasher or PasswordHasher()
        self.revocations: Revocations = revocations or LocalRevocations(store)
        self.throttle: Throttle = throttle or LocalThrottle()
        self.audit: AuditSink = audit or NullAudit()
        self.totp = totp
        self.clients = clients
        self.verifier: TokenVerifier = self._verifier_of(keyset)
        self.token_cache = VerifiedTokenCache()
        # The Caller of each verified token and what every request checks of it, worked
        # out once: a request then costs a lookup and the revocation check.
        self._callers: dict[str, _Seen] = {}
        # The in-memory lists are asked without a coroutine (see _Seen).
        self._local = self.revocations if isinstance(self.revocations, LocalRevocations) else None
        self.hash_pool = hash_pool()

    def __repr__(self) -> str:
        return f"Accounts(issuer={self.policy.issuer!r}, audience={self.policy.audience!r})"

    def _verifier_of(self, keyset: SigningKeySet) -> TokenVerifier:
        return keyset.verifier(
            audience=self.policy.audience,
            issuer=self.policy.issuer,
            required_claims=("exp", "iat", "sub", "jti"),
            leeway=LEEWAY,
            algorithms=self.policy.token_algorithms,
        )

    def use_keyset(self, keyset: SigningKeySet) -> None:
        """Sign and verify with ``keyset`` from now on (its file was rotated meanwhile).

        New tokens carry its primary key's ``kid``, the JWKS publishes its keys, and a
        token whose key it no longer verifies with (destroyed, disabled) is refused from
        the next request on, also one whose signature was checked already.
        """
        verifying = _verifying_kids(keyset)
        gone = _verifying_kids(self.keyset) - verifying
        # The verifier first: a token signed with the new key checks out as soon as it
        # is issued. One event loop runs both, so no request sees one without the other.
        self.verifier = self._verifier_of(keyset)
        self.keyset = keyset
        if gone:
            # Checked signatures are remembered per token: forget them, so that every
            # token is checked again against the keys that still verify.
            self._callers.clear()
            self.token_cache.clear()

    @classmethod
    async def open(
        cls,
        engine: AsyncEngine,
        keyset: SigningKeySet,
        policy: AccountPolicy | None = None,
        *,
        password_profile: str | None = None,
        redis_url: str | None = None,
        redis_prefix: str = "sealbox:",
        audit: AuditSink | None = None,
        watch: Path | None = None,
        totp_sealer: TotpSecretSealer | None = None,
        keyset_watch: KeySetWatch | None = None,
    ) -> Accounts:
        """Accounts over an engine whose schema is migrated (:func:`sealbox.accounts.migrate`).

        With ``redis_url``, revocations and throttle counters live in Redis (shared by
        every worker and host); without it, in this process, and ``watch`` names a file
        whose change (:func:`~sealbox.accounts.revocation.announce_change`, as
        ``sealbox users`` makes) reloads the revocation lists before the next check.
        ``totp_sealer`` (the key that seals TOTP secrets at rest) turns the second factor
        on. The OAuth 2 clients are those of the engine's database. ``keyset_watch``
        (the keyset's file, :class:`~sealbox.jwt.keyset_watch.KeySetWatch`) is looked at
        once a second until :meth:`close`: a rotation, or a key destroyed, made in the file
        by another process is taken into use (:meth:`use_keyset`) without a restart.
        """
        from sealbox.accounts.totp_store import TotpStore  # see the imports above

        policy = policy or AccountPolicy()
        sessions = sessionmaker(engine)
        store = Store(sessions, refresh_ttl=policy.refresh_token_ttl)
        revocations: Revocations
        throttle: Throttle
        if redis_url:
            revocations = RedisRevocations(store, redis_url, prefix=redis_prefix)
            throttle = RedisThrottle(redis_url, prefix=f"{redis_prefix}throttle:")
        else:
            revocations = LocalRevocations(store, watch=watch)
            throttle = LocalThrottle()
        await revocations.load()
        hasher = PasswordHasher(password_profile) if password_profile else PasswordHasher()
        accounts = cls(
            store,
            keyset,
            policy,
            hasher=hasher,
            revocations=revocations,
            throttle=throttle,
            audit=audit,
            totp=None
            if totp_sealer is None
            else TotpStore(sessions, totp_sealer, issuer=policy.issuer),
            clients=ClientStore(sessions),
        )
        if keyset_watch is not None:
            accounts._keyset_task = asyncio.get_running_loop().create_task(
                keyset_watch.run(accounts.use_keyset), name="sealbox-keyset-watch"
            )
        return accounts

    async def run_hasher(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a password hash or check on the hashing threads (off the event loop)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.hash_pool, functools.partial(fn, *args))

    async def authenticate(self, token: str, *, thumbprint: str | None = None) -> Caller:
        """The caller of an access token: signature checked once per token, revocation every time.

        A user's token or a client's (client credentials). A token bound to a client
        certificate (RFC 8705 §3, ``cnf``) is accepted only when ``thumbprint``, the
        ``x5t#S256`` of the connection's verified client certificate, is its.

        Raises:
            TokenError: not a valid access token of these accounts (code
                ``invalid_token``; the message says nothing more), a revoked one
                (code ``token_revoked``), or a bound one over a connection without its
                certificate (code ``token_binding_mismatch``).
        """
        seen = self._checked(token, thumbprint)
        caller = seen.caller
        refused = None
        if self._local is not None:
            refused = self._local.refused_now(
                caller.jti, caller.user_id, seen.session_version, seen.family_key
            )
        if refused is None:
            refused = await self.revocations.is_refused(
                caller.jti, caller.user_id, seen.session_version, seen.family_id
            )
        if refused:
            raise TokenError(_REVOKED, code="token_revoked")
        return caller

    def authenticate_now(self, token: str, *, thumbprint: str | None = None) -> Caller | None:
        """:meth:`authenticate` without waiting, or ``None`` when its answer needs a wait.

        The revocation lists in Redis, or in memory while they are read again, are asked
        by :meth:`authenticate` only: given ``None``, await it. This is for the service's
        leanest entries, where a coroutine is a share of the request worth saving.

        Raises:
            TokenError: as :meth:`authenticate`.
        """
        local = self._local
        if local is None:
            return None
        # _checked's answer for a known, unbound token in its time window, without the
        # call: this runs on every request of the leanest entries.
        seen = self._callers.get(token)
        if seen is None or seen.bound or not seen.not_before <= time.time() < seen.expires:
            seen = self._checked(token, thumbprint)
        caller = seen.caller
        refused = local.refused_now(
            caller.jti, caller.user_id, seen.session_version, seen.family_key
        )
        if refused:
            raise TokenError(_REVOKED, code="token_revoked")
        return None if refused is None else caller

    def _checked(self, token: str, thumbprint: str | None) -> _Seen:
        """The token's entry, once its signature, time and binding hold (revocation aside)."""
        now = time.time()
        seen = self._callers.get(token)
        if seen is None or seen.expires <= now:
            self._callers.pop(token, None)
            seen = self._verify(token, now)
        if seen.not_before > now:
            raise TokenError(_NOT_VALID, code="invalid_token")
        if seen.bound:
            try:
                check_binding_thumbprint(seen.caller.claims, thumbprint)
            except TokenError:
                said = _BOUND if thumbprint else _BOUND_NONE
                raise TokenError(said, code="token_binding_mismatch") from None
        return seen

    def _verify(self, token: str, now: float) -> _Seen:
        claims = self.token_cache.get(token, now)
        if claims is None:
            try:
                claims = self.verifier.verify(token, now=now)
            except SealboxError:
                raise TokenError(_NOT_VALID, code="invalid_token") from None
            # Imported here, once a signature checked out: the grants are no part of a
            # program that administers accounts without verifying tokens.
            from sealbox.accounts.grants import is_client_token

            user = isinstance(claims.get("uid"), int)
            if not (user or is_client_token(claims)) or not isinstance(claims.get("jti"), str):
                raise TokenError(_NOT_VALID, code="invalid_token")
            self.token_cache.put(token, claims)
        seen = _Seen(caller_from_claims(claims))
        if len(self._callers) >= self.token_cache.size:
            self._callers.clear()
        self._callers[token] = seen
        return seen

    def public_jwks(self) -> dict[str, Any]:
        """The JWK Set (RFC 7517) that verifies the access tokens."""
        return self.keyset.public_jwks()

    async def close(self) -> None:
        """Release threads and connections (not the engine: it is the caller's)."""
        if self._keyset_task is not None:
            self._keyset_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keyset_task
            self._keyset_task = None
        self.hash_pool.shutdown(wait=False, cancel_futures=True)
        await self.revocations.close()
        await self.throttle.close()


def _verifying_kids(keyset: SigningKeySet) -> set[str]:
    return {k.kid for k in keyset if k.state.usable}
