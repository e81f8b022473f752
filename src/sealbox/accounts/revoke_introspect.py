"""Token revocation (RFC 7009) and introspection (RFC 7662), without any web framework:
the decisions of ``/auth/revoke`` and ``/auth/introspect`` (the grants that issue the tokens
are in :mod:`sealbox.accounts.grants`).

- **Revocation**: a refresh token ends its whole family and the access tokens issued
  from it; an access token's ``jti`` joins the revocation lists, refused by every
  worker at once. A client may revoke the tokens issued to it (a refresh token is
  issued to the client its family is bound to, or to the first-party client when it is
  bound to none); one holding the scope :data:`REVOKE_SCOPE` may revoke any token (a
  resource server ending a session). Anything unknown, expired or garbage is accepted
  and ignored (RFC 7009 §2.2).
- **Introspection**: ``{"active": false}`` for anything that is not live — unknown,
  expired, revoked, ended by a password change or a reused refresh token — and the
  token's claims and scope when it is, with the ``client_id`` it was issued to (a refresh
  token's scope: what its next refresh would grant). Who may introspect what mirrors
  revocation (RFC 7662 §4): a client the tokens issued to it, one holding
  :data:`INTROSPECT_SCOPE` any token; another's token is
  :class:`IntrospectionRefusedError`, for the caller to answer ``{"active": false}``
  (RFC 7662 §2.2), live or not.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sealbox.accounts.binding import cnf_claim
from sealbox.accounts.models import RefreshToken, now
from sealbox.accounts.refresh_tokens import record_revoked_jti, revoke_refresh_tokens
from sealbox.accounts.revocation import KEEP_MARGIN, Revocations, after_commit, kept_until
from sealbox.accounts.scopes import INTROSPECT_SCOPE, REVOKE_SCOPE
from sealbox.accounts.token_records import family_ends_at, refresh_record
from sealbox.exceptions import SealboxError

if TYPE_CHECKING:
    from sealbox.accounts.audit import ChangeRecord

    # Named in annotations only: the verifier given verifies.
    from sealbox.jwt import TokenVerifier

__all__ = [
    "CLIENT_CREDENTIALS",
    "IntrospectionRefusedError",
    "RevocationRefusedError",
    "introspect",
    "is_client_token",
    "is_revoked",
    "revoke",
]

CLIENT_CREDENTIALS: Final = "client_credentials"


class RevocationRefusedError(SealboxError):
    """The client may not revoke a token that was issued to someone else."""

    code = "unauthorized_client"


class IntrospectionRefusedError(SealboxError):
    """The client may not introspect a token that was issued to someone else.

    The answer to give the caller is ``{"active": false}`` (RFC 7662 §2.2), the same as
    for a token that is not live: the refusal is for the audit log, never the caller.
    """

    code = "introspection_refused"


def is_client_token(claims: Mapping[str, Any]) -> bool:
    """Whether verified claims are a client's (client credentials), not a user's."""
    return (
        claims.get("gty") == CLIENT_CREDENTIALS
        and "uid" not in claims
        and isinstance(claims.get("client_id"), str)
        and claims.get("client_id") == claims.get("sub")
    )


async def is_revoked(revocations: Revocations, claims: Mapping[str, Any]) -> bool:
    """Whether the revocation lists refuse verified access-token claims."""
    uid = claims.get("uid")
    family = claims.get("sid")
    version = claims.get("sv", 0)
    return await revocations.is_refused(
        str(claims.get("jti")),
        uid if isinstance(uid, int) else 0,
        version if isinstance(version, int) else 0,
        family if isinstance(family, str) else None,
    )


async def _family_ended(
    sessions: async_sessionmaker[AsyncSession],
    claims: Mapping[str, Any],
    family_ttl: int | None,
    at: float,
) -> bool:
    """Whether a user's access token names a refresh family that has ended by ``at``.

    Every access token of a family expires at its end when it is issued now; one issued
    before that (by an earlier version, or under a longer family lifetime) may carry a
    later ``exp``, and is refused here all the same. A family with no token stored (its
    account deleted) has no start to count from: the token's other checks decide."""
    family = claims.get("sid")
    if family_ttl is None or is_client_token(claims) or not isinstance(family, str):
        return False
    async with sessions() as session:
        ends_at = await family_ends_at(session, family, family_ttl)
    return ends_at is not None and ends_at.timestamp() <= at


def _verified(verifier: TokenVerifier, token: str, at: float) -> dict[str, Any] | None:
    if len(token) > 8192:
        return None
    try:
        claims = verifier.verify(token, now=at)
    except SealboxError:
        return None
    if not isinstance(claims.get("jti"), str):
        return None
    if not isinstance(claims.get("uid"), int) and not is_client_token(claims):
        return None
    return claims


def _within(claims: dict[str, Any], at: float) -> bool:
    # iat is no bound (RFC 7519 §4.1.6): another host's clock a little ahead made it.
    return bool(float(claims.get("nbf", at)) <= at < float(claims["exp"]))


def _check_introspection(caller_id: str, caller_scopes: tuple[str, ...], issued_to: object) -> None:
    if issued_to != caller_id and INTROSPECT_SCOPE not in caller_scopes:
        raise IntrospectionRefusedError("the token was issued to another client")


async def introspect(
    token: str,
    *,
    caller_id: str,
    caller_scopes: Iterable[str],
    verifier: TokenVerifier,
    revocations: Revocations,
    sessions: async_sessionmaker[AsyncSession],
    first_party_client_id: str,
    at: float | None = None,
    family_ttl: int | None = None,
) -> dict[str, Any]:
    """The RFC 7662 §2.2 answer for ``token`` (an access or a refresh token), to the
    client ``caller_id`` holding ``caller_scopes``.

    ``{"active": false}`` and nothing else for anything that is not live. ``at``: the
    time to check against (seconds since the epoch), instead of the clock.
    ``family_ttl``: the refresh families' absolute lifetime in seconds
    (``AccountPolicy.refresh_family_ttl``; ``None``: none): a token of a family past
    it is not live, whatever its own expiry says (one issued before the lifetime existed,
    or under a longer one).

    Raises:
        IntrospectionRefusedError: the caller does not hold :data:`INTROSPECT_SCOPE`
            and the token was not issued to it: issued to another client (a refresh
            token, live or ended; an access token whose signature verifies, live or
            revoked), or no token sealbox issued at all (unknown, forged, expired);
            answer ``{"active": false}``.
    """
    at = time.time() if at is None else at
    scopes = tuple(caller_scopes)
    claims = _verified(verifier, token, at)
    if claims is not None:
        # Whose it is, before whether it lives (as for revocation): another client's
        # token is refused live or not, so that the refusal depends on nothing of its state.
        _check_introspection(caller_id, scopes, claims.get("client_id"))
        # Active is within the validity window (RFC 7662 §2.2): the verifier's leeway is
        # for other hosts' clocks, and here the issuer's own clock answers.
        if not _within(claims, at) or await is_revoked(revocations, claims):
            return {"active": False}
        if await _family_ended(sessions, claims, family_ttl, at):
            return {"active": False}
        answer: dict[str, Any] = {"active": True, "token_type": "Bearer"}
        # Scope is optional (RFC 7662 §2.2) and never empty (RFC 6749 §3.3): a token
        # granted no scope (a client holding none) gets no member.
        if claims.get("scope"):
            answer["scope"] = claims["scope"]
        # Only the members the token has (RFC 7662 §2.2): one without a client_id claim
        # gets none, not null.
        if "client_id" in claims:
            answer["client_id"] = claims["client_id"]
        if not is_client_token(claims):
            answer["username"] = claims.get("sub")
        for name in ("sub", "aud", "iss", "exp", "iat", "nbf", "jti", "cnf"):
            if name in claims:
                answer[name] = claims[name]
        return answer
    record = await refresh_record(sessions, token, family_ttl)
    if record is None:
        # No token sealbox issued to the caller (forged, garbage, expired): refused as
        # another client's is, so that whatever the refusal costs (its audit record, a 503
        # when that cannot be written) tells a caller without the scope nothing of which
        # tokens are genuine.
        _check_introspection(caller_id, scopes, None)
        return {"active": False}
    _check_introspection(caller_id, scopes, record.client_id or first_party_client_id)
    # Reuse, logout, revocation and a password change all mark the rows revoked. A
    # disabled account's is refused as its refresh is, also when no revocation marked it
    # (an account disabled by writing the flag alone).
    if not record.live or record.user.disabled:
        return {"active": False}
    # What its next refresh would grant: the family's scope, less what the account no
    # longer holds (a scope an administrator took back is no longer the token's).
    held = list(record.user.scopes)
    family = held if record.scope is None else record.scope.split()
    scope = " ".join(s for s in dict.fromkeys(family) if s in held)
    answer = {
        "active": True,
        "token_type": "refresh_token",
        # The client the family was issued to, as an access token's claim names it.
        "client_id": record.client_id or first_party_client_id,
        "username": record.user.username,
        "sub": record.user.username,
        "iat": int(record.created_at.timestamp()),
        # Its family's end, when that comes first (a token issued before the lifetime).
        "exp": int(min(record.expires_at, record.ends_at or record.expires_at).timestamp()),
    }
    if scope:  # an account holding no scope: no member, as for an access token
        answer["scope"] = scope
    if record.cnf_x5t is not None:
        answer.update(cnf_claim(record.cnf_x5t))
    return answer


def _may_revoke(caller_id: str, caller_scopes: Iterable[str], issued_to: object) -> bool:
    return issued_to == caller_id or REVOKE_SCOPE in set(caller_scopes)


async def revoke(
    token: str,
    *,
    caller_id: str,
    caller_scopes: Iterable[str],
    verifier: TokenVerifier,
    revocations: Revocations,
    sessions: async_sessionmaker[AsyncSession],
    first_party_client_id: str,
    access_token_ttl: int,
    at: float | None = None,
    record: ChangeRecord | None = None,
) -> str | None:
    """Revoke ``token`` for the client ``caller_id``; return what was revoked, if anything.

    ``"access_token"``, ``"refresh_token"`` or ``None`` (nothing live: unknown, expired,
    garbage — not an error, RFC 7009 §2.2).

    ``record``: its audit record, written (``detail``: what) in the revocation's transaction:
    one the log refuses revokes nothing. An access token's ``jti`` is stored once, by that
    transaction; the revocation lists are told after the commit (this worker's, and Redis
    or the changes file: every worker refuses it at once; a Redis that does not answer
    raises :class:`~sealbox.exceptions.StoreUnavailableError`, the revocation made).

    Raises:
        RevocationRefusedError: the token was issued to another client (a refresh token,
            live or ended; an access token, live) and the caller does not hold
            :data:`REVOKE_SCOPE`.
    """
    at = time.time() if at is None else at
    scopes = tuple(caller_scopes)
    claims = _verified(verifier, token, at)
    if claims is not None:
        if not _may_revoke(caller_id, scopes, claims.get("client_id")):
            raise _refused()
        # Kept past exp by more than verification's leeway: kept until exp only, it is
        # forgotten (a Redis key expiring, a reload, another worker) while the verifier
        # still takes the token, which then works again for those seconds.
        until = datetime.fromtimestamp(float(claims["exp"]) + KEEP_MARGIN, UTC)
        with record or contextlib.nullcontext():
            async with sessions.begin() as session:
                await record_revoked_jti(session, claims["jti"], until)
                _write(record, "access_token")
        with after_commit():
            # This worker's list, and Redis or the changes file: the database has it.
            await revocations.revoke(claims["jti"], until, stored=True)
        return "access_token"
    found = await refresh_record(sessions, token)
    if found is None:
        return None
    # Whose it is, before whether it lives: refused the same way live or ended, another
    # client's token tells its presenter nothing of its family (RFC 7009 §2.2).
    if not _may_revoke(caller_id, scopes, found.client_id or first_party_client_id):
        raise _refused()
    # A used (rotated) token still ends its family: whoever holds it held the session.
    if found.revoked or found.expires_at <= now():
        return None
    with record or contextlib.nullcontext():
        async with sessions.begin() as session:
            # A refresh of the family racing this revocation: what it adds is revoked too.
            await revoke_refresh_tokens(session, RefreshToken.family_id == found.family_id, now())
            _write(record, "refresh_token")
    # The family's access tokens die with it (they name it in "sid").
    until = kept_until(access_token_ttl, at=datetime.fromtimestamp(at, UTC))
    with after_commit():
        await revocations.revoke_family(found.family_id, until)
    return "refresh_token"


def _write(record: ChangeRecord | None, what: str) -> None:
    # The transaction's last step: a record the log refuses rolls the revocation back.
    if record is not None:
        record.write(detail=what)


def _refused() -> RevocationRefusedError:
    return RevocationRefusedError("the token was issued to another client")
