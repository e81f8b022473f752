"""The authorization server's decisions: client authentication and the client credentials
grant, without any web framework.

- **Client authentication** (RFC 6749 §2.3): exactly one method per request — HTTP
  Basic (``client_secret_basic``), ``client_id`` and ``client_secret`` in the form
  (``client_secret_post``), or the verified certificate of a mutual-TLS connection
  with ``client_id`` in the form (RFC 8705 ``tls_client_auth``).
- **Client credentials** (RFC 6749 §4.4): an access token whose ``sub`` and
  ``client_id`` are the client's id, ``gty`` is ``client_credentials``, the scope is
  what was asked for (all the client's scopes when nothing was), never more (a wider
  request is refused, ``invalid_scope``), and no refresh token. Over mutual TLS it is
  bound to the certificate (:mod:`sealbox.accounts.binding`). Every token of a client
  names the client's family in ``sid`` (:func:`client_family`, with the client's session
  version), so that deleting the client refuses them all at once
  (:func:`revoke_client_tokens`), together with the refresh families of password logins
  the client authenticated, and their access tokens; disabling it or rotating its secret
  with the tokens ended refuses those of its current version (:func:`end_client_tokens`).
  A disabled client does not authenticate.
- **Throttling** (:func:`authenticate_client_attempt`): a client authentication counts
  against the client address, with the sign-in limit and store
  (:mod:`sealbox.accounts.attempts`), before the credentials are checked; past the limit
  it is :class:`~sealbox.accounts.attempts.Throttled` with nothing checked. A success gives
  its own count back, nothing more. There is no limit per client id: a secret of 256
  random bits is not guessed within any limit, and one would let whoever knows an id (it
  is no secret) lock the client out.
Revocation (RFC 7009) and introspection (RFC 7662) are in
:mod:`sealbox.accounts.revoke_introspect` (their names are importable from here too).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sealbox.accounts.attempts import client_attempt_succeeded, throttle_client_attempt
from sealbox.accounts.binding import cnf_claim
from sealbox.accounts.clients import ClientDisabledError, ClientInfo, ClientStore
from sealbox.accounts.models import RefreshToken, now
from sealbox.accounts.refresh_tokens import revoke_refresh_tokens
from sealbox.accounts.revocation import Revocations, kept_until
from sealbox.accounts.revoke_introspect import (
    CLIENT_CREDENTIALS,
    IntrospectionRefusedError,
    RevocationRefusedError,
    introspect,
    is_client_token,
    is_revoked,
    revoke,
)
from sealbox.accounts.scopes import INTROSPECT_SCOPE, REVOKE_SCOPE
from sealbox.exceptions import SealboxError

if TYPE_CHECKING:
    from sealbox.accounts.core import Accounts

    # Named in annotations only: the keyset and verifier given sign and verify.
    from sealbox.jwt import SigningKeySet

__all__ = [
    "CLIENT_CREDENTIALS",
    "INTROSPECT_SCOPE",
    "REVOKE_SCOPE",
    "ClientAuthError",
    "ClientToken",
    "IntrospectionRefusedError",
    "RevocationRefusedError",
    "ScopeNotGrantedError",
    "authenticate_client",
    "authenticate_client_attempt",
    "client_family",
    "end_client_tokens",
    "introspect",
    "is_client_token",
    "is_revoked",
    "issue_client_token",
    "revoke",
    "revoke_client_tokens",
]

# Families revoked per statement (SQLite and asyncpg bound the parameters of one).
_FAMILY_BATCH: Final = 500


class ClientAuthError(SealboxError):
    """Client authentication failed or was malformed.

    ``code`` is ``invalid_client`` (unknown client, wrong secret or certificate: the
    message never says which) or ``invalid_request`` (two methods at once, a missing
    ``client_id``). A disabled client's right credentials are ``invalid_client`` too,
    with ``facts["reason"]`` ``client_disabled`` for the audit log (the message is the
    same).
    """

    code = "invalid_client"


class ScopeNotGrantedError(SealboxError):
    """A client asked for a scope it does not hold."""

    code = "invalid_scope"


@dataclass(frozen=True, slots=True)
class ClientToken:
    """What the client credentials grant answers (no refresh token)."""

    access_token: str = field(repr=False)
    expires_in: int
    scope: tuple[str, ...]


def _auth_failed() -> ClientAuthError:
    return ClientAuthError("client authentication failed")


async def authenticate_client(
    clients: ClientStore,
    *,
    basic: tuple[str, str] | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    subject_dn: str | None = None,
) -> ClientInfo | None:
    """The client a request authenticates as, or ``None`` when it does not try.

    Args:
        clients: the registered clients.
        basic: ``(client_id, secret)`` of an ``Authorization: Basic`` header, decoded.
        client_id: the form's ``client_id``.
        client_secret: the form's ``client_secret``.
        subject_dn: the subject (RFC 4514) of the connection's verified client
            certificate, ``None`` without mutual TLS.

    Raises:
        ClientAuthError: the credentials given do not authenticate, or the client is
            disabled (``invalid_client``), or more than one method was used
            (``invalid_request``).
    """
    try:
        return await _authenticated(clients, basic, client_id, client_secret, subject_dn)
    except ClientDisabledError as exc:
        # The same answer as wrong credentials; the reason is for the audit log.
        failed = _auth_failed()
        failed.facts.update(reason=exc.code, **exc.facts)
        raise failed from None


async def authenticate_client_attempt(
    accounts: Accounts,
    address: str,
    *,
    basic: tuple[str, str] | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    subject_dn: str | None = None,
) -> ClientInfo | None:
    """:func:`authenticate_client` against ``accounts.clients``, counted against
    ``address``'s client authentication limit (``throttle_client_attempts``; a request that
    does not try is not counted).

    Raises:
        Throttled: past the address's limit; nothing was checked.
        ClientAuthError: as :func:`authenticate_client` (the attempt stays counted);
            ``invalid_client`` when the accounts have no clients.
    """
    if basic is None and not client_secret and not (client_id and subject_dn is not None):
        return None
    # Counted before the secret is hashed and looked up, in one step with the limit: a
    # flood from one address gets at most the limit's worth of checks.
    attempt = await throttle_client_attempt(accounts, address)
    if accounts.clients is None:
        raise _auth_failed()
    found = await authenticate_client(
        accounts.clients,
        basic=basic,
        client_id=client_id,
        client_secret=client_secret,
        subject_dn=subject_dn,
    )
    if found is not None:
        # Its own count only: clearing the address's would let whoever holds one client's
        # secret wipe the guesses at another's between two of them.
        await client_attempt_succeeded(accounts, address, attempt)
    return found


async def _authenticated(
    clients: ClientStore,
    basic: tuple[str, str] | None,
    client_id: str | None,
    client_secret: str | None,
    subject_dn: str | None,
) -> ClientInfo | None:
    if basic is not None:
        if client_secret:
            raise ClientAuthError(
                "use one client authentication method, not two", code="invalid_request"
            )
        if client_id is not None and client_id != basic[0]:
            raise ClientAuthError(
                "the client_id does not match the authenticated client", code="invalid_request"
            )
        found = await clients.authenticate_secret(*basic)
    elif client_secret:
        if not client_id:
            raise ClientAuthError("client_secret needs client_id", code="invalid_request")
        found = await clients.authenticate_secret(client_id, client_secret)
    elif client_id and subject_dn is not None:
        found = await clients.authenticate_certificate(client_id, subject_dn)
    else:
        return None
    if found is None:
        raise _auth_failed()
    return found


def issue_client_token(
    keyset: SigningKeySet,
    client: ClientInfo,
    scopes: Sequence[str],
    *,
    issuer: str,
    audience: str,
    ttl: int,
    thumbprint: str | None = None,
) -> ClientToken:
    """Sign an access token for ``client`` (the client credentials grant).

    Args:
        keyset: the service's signing keys.
        client: the authenticated client.
        scopes: the scopes asked for; none asked: every scope the client holds.
        issuer, audience, ttl: ``iss``, ``aud`` and the lifetime in seconds.
        thumbprint: the ``x5t#S256`` of the client certificate the request came
            with: the token is bound to it (RFC 8705 §3).

    Raises:
        ScopeNotGrantedError: a scope the client does not hold was asked for.
    """
    asked = tuple(dict.fromkeys(scopes))
    missing = [s for s in asked if s not in client.scopes]
    if missing:
        raise ScopeNotGrantedError(
            f"the client may not be granted {' '.join(sorted(missing))}",
            facts={"scope": " ".join(sorted(missing))},
        )
    granted = asked or tuple(client.scopes)
    claims: dict[str, Any] = {
        "client_id": client.client_id,
        "gty": CLIENT_CREDENTIALS,
        "sid": client_family(client.client_id, client.session_version),
    }
    if thumbprint is not None:
        claims.update(cnf_claim(thumbprint))
    token = keyset.issue(
        client.client_id,
        audience=audience,
        issuer=issuer,
        ttl=ttl,
        scope=list(granted),
        claims=claims,
    )
    return ClientToken(token, ttl, granted)


def client_family(client_id: str, version: int = 0) -> str:
    """The family the access tokens of the client ``client_id`` at session ``version``
    name in ``sid``: ``client:<id>:<version>``, and ``client:<id>`` at version 0, as
    every token issued before clients had versions names it."""
    return f"client:{client_id}:{version}" if version else f"client:{client_id}"


async def end_client_tokens(
    revocations: Revocations, client: ClientInfo, access_token_ttl: int
) -> None:
    """Refuse the access tokens of ``client``'s current session version, for as long as
    any can live: the ``end`` of :meth:`ClientStore.disable
    <sealbox.accounts.clients.ClientStore.disable>` and of a rotation ending the tokens,
    which then raise the version (the tokens issued after name the new one)."""
    until = kept_until(access_token_ttl)
    await revocations.revoke_family(client_family(client.client_id, client.session_version), until)


async def revoke_client_tokens(
    revocations: Revocations,
    client: ClientInfo,
    access_token_ttl: int,
    *,
    sessions: async_sessionmaker[AsyncSession] | None = None,
) -> None:
    """Refuse every access token issued to the client, for as long as any can live: those
    of its session version (the tokens of older ones were refused when they were ended).

    With ``sessions``, the refresh families issued to the client (password logins it
    authenticated) end too, and the access tokens issued from them: their access tokens
    are refused first, then the refresh tokens revoked, so that a failure of the
    revocation lists leaves the families as they were, for another attempt to find.
    Only the families read are revoked, not every token of the client: a family begun
    after the read (a login racing this) stays live, so that the sweep an ending makes
    once its change is committed finds it and refuses its access tokens too (revoked
    here unrefused, it would look ended and its access tokens would pass).

    A client with a ``sweep_through`` (the sweep after an ending, :meth:`ClientStore.disable
    <sealbox.accounts.clients.ClientStore.disable>`) ends only the families with a refresh
    token of that row id or lower: those begun before its change and no later one.
    """
    client_id, through = client.client_id, client.sweep_through
    until = kept_until(access_token_ttl)
    await revocations.revoke_family(client_family(client_id, client.session_version), until)
    if sessions is None:
        return
    condition = (RefreshToken.client_id == client_id) & RefreshToken.revoked_at.is_(None)
    if through is not None:
        condition = condition & (RefreshToken.id <= through)
    async with sessions() as session:
        families = (
            await session.execute(select(RefreshToken.family_id).where(condition).distinct())
        ).scalars()
        live = list(families)
    for family in live:
        await revocations.revoke_family(family, until)
    # By family, so that a token a refresh of one of them adds meanwhile ends too; in
    # batches, as a statement takes a bounded number of parameters.
    for start in range(0, len(live), _FAMILY_BATCH):
        batch = live[start : start + _FAMILY_BATCH]
        async with sessions.begin() as session:
            ended = (RefreshToken.client_id == client_id) & RefreshToken.family_id.in_(batch)
            await revoke_refresh_tokens(session, ended, now())
