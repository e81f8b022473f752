"""Refresh-token families in the database: issue, rotation, reuse and revocation (the
part of :class:`~sealbox.accounts.store.Store` that holds sessions; its users' part
is in :mod:`sealbox.accounts.store`).

Refresh tokens are opaque random strings; only their SHA-256 is stored. Each use
rotates the token (the old one is marked used, a new one joins the same family);
presenting a token that was already used revokes its whole family, because one of
the two presenters is a thief (RFC 9700, section 4.14.2). The "mark used" step is
a conditional ``UPDATE … WHERE used_at IS NULL``, so two concurrent uses of one
token cannot both succeed.

An operator may allow a retry grace (``reuse_grace`` seconds): a client whose
refresh answer was lost and who presents the same token again within the grace
gets a new token of the same family instead of losing every session. After the
grace, or with a grace of 0 (the default), reuse revokes the family. A family has one
live token, the last issued: a retry's new token supersedes the one the first use
answered, which is used from then on (a retry within the grace, a reuse after it), so a
replay within the grace is still detected when the owner refreshes after it. The
refreshes of one account take turns (its row is held), so those of one family at the
same instant leave one live token too.

Each family carries the scope granted at login; every token of the family carries it
on, so a refresh can never widen it.

A family issued over mutual TLS without client authentication (the public first-party
client) is bound to the client certificate (RFC 8705 §4): it is refreshed only over a
connection presenting the same certificate; any other attempt is ``invalid`` and changes
nothing (the token is neither used nor revoked). A family issued to a registered client is
bound to that client instead (§7.1: its authentication at every refresh binds it), never to
a certificate, so the client may renew its certificate and keep refreshing; a family bound
to its certificate by an earlier version is read so too.

A family issued to a registered client (one that authenticated at the token endpoint) is
bound to that client (RFC 6749 §6, §10.4), and one issued without client authentication
to no client: it is refreshed only by the same client, or again without one. Any other
attempt is ``wrong_client`` and changes nothing either, not even when the token was used
already: the presenter cannot redeem it, so it is no reuse by a holder, and revoking the
family would let anyone who sees a token end its owner's session without the client's
credentials.

An audited change takes its record (``before_commit``), called in its transaction before
the commit: a record that cannot be written rolls it back (``audit.ChangeRecord``).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sealbox.accounts.client_models import OAuthClient
from sealbox.accounts.models import RefreshToken, RevokedToken, User, now
from sealbox.accounts.refresh_rules import (
    RefreshOutcome,
    family_binding,
    family_end,
    family_start,
    refresh_expiry,
    refusal,
)

__all__ = [
    "REFRESH_PREFIX",
    "RefreshTokens",
    "SessionsEndedError",
    "hash_refresh_token",
    "new_refresh_token",
    "record_revoked_jti",
    "revoke_refresh_tokens",
]

BeforeCommit = Callable[[], None]

REFRESH_PREFIX = "sbr_"
# Statements a family's revocation makes at most, chasing refreshes that rotate it meanwhile.
_MAX_REVOKE_ROUNDS = 64


class SessionsEndedError(Exception):
    """The account's sessions ended (or it is gone) since it was read: no new session."""


def hash_refresh_token(token: str) -> bytes:
    """The stored form of a refresh token.

    A string that is not Unicode text (a lone surrogate) is no token sealbox issued: it
    gets a digest that matches none (``surrogatepass``) instead of an encoding error.
    """
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def new_refresh_token() -> str:
    """A fresh opaque refresh token: a prefix and 256 random bits in base64url."""
    return REFRESH_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


class RefreshTokens:
    """The refresh-token operations of :class:`~sealbox.accounts.store.Store`, one short
    transaction each, on its ``_sessions`` with its ``refresh_ttl``."""

    _sessions: async_sessionmaker[AsyncSession]
    refresh_ttl: int

    def _clock(self) -> datetime:
        """The time a token is issued, used, revoked at (the store's clock)."""
        return now()

    async def issue_refresh(
        self,
        user_id: int,
        scope: str,
        family_id: str | None = None,
        *,
        bound_to: str | None = None,
        session_version: int | None = None,
        client_id: str | None = None,
        family_ttl: int | None = None,
        client_version: int | None = None,
        before_commit: Callable[[AsyncSession], Awaitable[None]] | None = None,
    ) -> tuple[str, str]:
        """Store a new refresh token granting ``scope``; return ``(token, family_id)``.

        ``bound_to``: the ``x5t#S256`` of the connection's client certificate, which a
        family issued to no client is bound to (one issued to a client is the client's).
        ``client_id``: the registered client it is issued to (``None``: no client).
        ``family_ttl``: the family's absolute lifetime in seconds, from now (``None``:
        none); the token expires no later.
        ``session_version``: the account's session version when it was read (before its
        password was checked); if its sessions ended since (a password change or reset,
        a disabled account), nothing is stored.
        ``client_version``: the session version of the client ``client_id`` when it
        authenticated; if its tokens were ended since (it was disabled, its secret rotated
        with the tokens ended, or it is gone), nothing is stored.
        ``before_commit``: the rest of the login in this transaction (its second factor's
        code spent) and its record; raising stores nothing.

        Raises:
            SessionsEndedError: ``session_version`` is not the account's any more, or
                ``client_version`` the client's.
        """
        token = new_refresh_token()
        family = family_id or secrets.token_hex(16)
        created = self._clock()
        async with self._sessions.begin() as session:
            if session_version is not None:
                # A write first, as the administration does: it takes the row's lock on
                # PostgreSQL (a concurrent change of the password is waited for, and its
                # revocation of the refresh tokens then sees this one) and the write
                # lock on SQLite, so that the version compared is the latest.
                held = await session.execute(
                    update(User)
                    .where(User.id == user_id, User.session_version == session_version)
                    .values(session_version=User.session_version)
                )
                if _rowcount(held) != 1:
                    raise SessionsEndedError(user_id)
            if client_id is not None and client_version is not None:
                # The client's row held the same way until this commits: an ending of its
                # tokens raises its version in a write that waits for this, and then sees
                # the family this adds (ClientStore._end_tokens); one that came first
                # leaves another version here, and nothing is stored.
                current = await session.execute(
                    update(OAuthClient)
                    .where(
                        OAuthClient.client_id == client_id,
                        OAuthClient.session_version == client_version,
                        OAuthClient.disabled.is_(False),
                    )
                    .values(session_version=OAuthClient.session_version)
                    .execution_options(synchronize_session=False)
                )
                if _rowcount(current) != 1:
                    raise SessionsEndedError(user_id)
            session.add(
                RefreshToken(
                    token_hash=hash_refresh_token(token),
                    family_id=family,
                    user_id=user_id,
                    created_at=created,
                    expires_at=refresh_expiry(
                        created, self.refresh_ttl, family_end(created, family_ttl)
                    ),
                    scope=scope,
                    cnf_x5t=family_binding(bound_to, client_id),
                    client_id=client_id,
                )
            )
            if before_commit is not None:
                await before_commit(session)
        return token, family

    async def use_refresh(
        self,
        token: str,
        reuse_grace: float = 0.0,
        narrow_to: Collection[str] | None = None,
        *,
        presented: str | None = None,
        client_id: str | None = None,
        family_ttl: int | None = None,
        before_commit: Callable[[RefreshOutcome], None] | None = None,
    ) -> RefreshOutcome:
        """Rotate a refresh token (see the module docstring).

        ``narrow_to``: scopes the refresh asks for. If they are not all within the
        family's grant that the account still holds, nothing changes and the status is
        ``invalid_scope``.
        ``presented``: the ``x5t#S256`` of the connection's client certificate; a family
        bound to a certificate (one of no client) needs the same one, or the status is
        ``invalid`` and nothing changes.
        ``client_id``: the client that authenticated (``None``: none did); a family
        issued to another client, or to none, is ``wrong_client`` and nothing changes.
        ``family_ttl``: the families' absolute lifetime in seconds (``None``: none); past
        it, counted from the family's first token, the status is ``invalid``, and the new
        token expires no later.
        ``before_commit``: the record of an ``ok`` (rotated) or ``reused`` (family revoked)
        outcome, before the commit; raising rolls it back (the token may be sent again).
        """
        digest = hash_refresh_token(token)
        at = self._clock()
        retried = False
        async with self._sessions.begin() as session:
            found = (
                await session.execute(
                    # The account's name read with the token on every path alike: the
                    # refusal that names it (wrong_client) costs no more than another.
                    select(RefreshToken, User.username, family_start())
                    .join(User, User.id == RefreshToken.user_id)
                    .where(RefreshToken.token_hash == digest)
                )
            ).one_or_none()
            row, owner, started = (found[0], found[1], found[2]) if found else (None, None, None)
            end = family_end(started, family_ttl)
            refused = refusal(row, at, presented, client_id, owner, end=end)
            if refused is not None or row is None:
                return refused or RefreshOutcome("invalid")
            # The account's row, held until this commits: a password change, a reset or a
            # disabling writes that row before it revokes the refresh tokens, so it either
            # ended before (the token is seen revoked just below) or waits for this to
            # commit (and then revokes the token this adds too). Unheld, a change that
            # read the tokens while this ran would miss the new one. Held as a write
            # would hold it, not shared: the refreshes of a family then take turns, and
            # each sees the token the one before added (see _supersede).
            user = (
                await session.execute(
                    select(User)
                    .where(User.id == row.user_id)
                    .with_for_update(key_share=True)
                    .execution_options(populate_existing=True)
                )
            ).scalar_one_or_none()
            revoked = (
                await session.execute(
                    select(RefreshToken.revoked_at).where(RefreshToken.id == row.id)
                )
            ).scalar_one_or_none()
            if user is None or revoked is not None:
                return RefreshOutcome("invalid")
            # What the family may still be given: its grant, less what an administrator
            # has taken from the account since. A scope asked for outside it is refused
            # here, before the token is used; granted and then dropped, it left an access
            # token with an empty scope.
            held = set(user.scopes)
            granted = held if row.scope is None else held.intersection(row.scope.split())
            widened = bool(narrow_to) and not set(narrow_to or ()) <= granted
            # A used token is reuse whatever it asks for: only a live one is told its scope
            # is too wide (else a replay asking more would dodge reuse detection).
            if widened and row.used_at is None:
                return RefreshOutcome("invalid_scope", user=user, family_id=row.family_id)
            claimed = await session.execute(
                update(RefreshToken)
                .where(
                    RefreshToken.id == row.id,
                    RefreshToken.used_at.is_(None),
                    RefreshToken.revoked_at.is_(None),
                )
                .values(used_at=at)
            )
            if _rowcount(claimed) != 1:
                used_at = (
                    await session.execute(
                        select(RefreshToken.used_at).where(RefreshToken.id == row.id)
                    )
                ).scalar_one_or_none()
                if used_at is None or reuse_grace <= 0 or at - used_at > _seconds(reuse_grace):
                    await self._revoke_family(session, row.family_id, at)
                    reused = RefreshOutcome("reused", user=user, family_id=row.family_id)
                    if before_commit is not None:
                        before_commit(reused)
                    return reused
                retried = True
                if widened:  # a retry within the grace asks no more than the first use could
                    return RefreshOutcome("invalid_scope", user=user, family_id=row.family_id)
            await _supersede(session, row.family_id, at)
            new = new_refresh_token()
            session.add(
                RefreshToken(
                    token_hash=hash_refresh_token(new),
                    family_id=row.family_id,
                    user_id=row.user_id,
                    created_at=at,
                    expires_at=refresh_expiry(at, self.refresh_ttl, end),
                    scope=row.scope,
                    cnf_x5t=family_binding(row.cnf_x5t, row.client_id),
                    client_id=row.client_id,
                )
            )
            done = RefreshOutcome(
                "ok",
                user=user,
                token=new,
                family_id=row.family_id,
                scope=row.scope,
                retried=retried,
                client_id=row.client_id,
                ends_at=end,
            )
            if before_commit is not None:
                before_commit(done)
        return done

    async def revoke_family_of(
        self,
        token: str,
        user_id: int,
        *,
        also: str | None = None,
        before_commit: BeforeCommit | None = None,
    ) -> str | None:
        """Revoke the family of ``token`` if it belongs to ``user_id``; return its id.
        ``also``: another family of ``user_id`` revoked with it (a logout's own);
        ``before_commit``: the audit record, found or not (see the module docstring)."""
        digest = hash_refresh_token(token)
        at = self._clock()
        async with self._sessions.begin() as session:
            row = (
                await session.execute(select(RefreshToken).where(RefreshToken.token_hash == digest))
            ).scalar_one_or_none()
            family = None if row is None or row.user_id != user_id else row.family_id
            if family is not None:
                await self._revoke_family(session, family, at)
            if also is not None and also != family:
                await self._revoke_family(session, also, at, user_id=user_id)
            if before_commit is not None:
                before_commit()
            return family

    @staticmethod
    async def _revoke_family(
        session: AsyncSession, family_id: str, at: datetime, *, user_id: int | None = None
    ) -> None:
        condition = RefreshToken.family_id == family_id
        if user_id is not None:
            condition = condition & (RefreshToken.user_id == user_id)
        await revoke_refresh_tokens(session, condition, at)

    # -- revoked access tokens ------------------------------------------------------

    async def revoke_jti(self, jti: str, expires_at: datetime) -> None:
        """Record a revoked access-token id (idempotent, also when two workers race).

        One ``INSERT … ON CONFLICT DO UPDATE``: several requests that detect the reuse
        of one refresh token at the same instant all revoke its family.
        """
        async with self._sessions.begin() as session:
            await record_revoked_jti(session, jti, expires_at)

    async def revoked_jtis(self) -> dict[str, datetime]:
        """The revoked ids that have not expired yet."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(RevokedToken.jti, RevokedToken.expires_at).where(
                    RevokedToken.expires_at > self._clock()
                )
            )
            return dict(rows.all())


async def _supersede(session: AsyncSession, family_id: str, at: datetime) -> None:
    """Mark used every live token of the family, before a refresh adds the next one.

    A family has one live token, the last issued. A retry within the grace issues a new
    one beside the token the first use answered: that one is used from now on, so it is
    redeemed as a retry within the grace and as a reuse after it. Left live, the family
    forked into two branches refreshed apart for ever, and a replay within the grace was
    never detected, however much later the owner refreshed."""
    await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.family_id == family_id,
            RefreshToken.used_at.is_(None),
            RefreshToken.revoked_at.is_(None),
        )
        .values(used_at=at)
    )


async def record_revoked_jti(session: AsyncSession, jti: str, expires_at: datetime) -> None:
    """:meth:`Store.revoke_jti` in a transaction of the caller's (with its audit record)."""
    from sqlalchemy.dialects import postgresql, sqlite

    postgres = session.get_bind().dialect.name == "postgresql"
    insert = postgresql.insert if postgres else sqlite.insert
    statement: Any = insert(RevokedToken).values(jti=jti, expires_at=expires_at)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[RevokedToken.jti], set_={"expires_at": statement.excluded.expires_at}
        )
    )


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


async def revoke_refresh_tokens(
    session: AsyncSession, condition: ColumnElement[bool], at: datetime
) -> None:
    """Revoke the unrevoked refresh tokens that meet ``condition``, repeating until none
    is left: a refresh rotating one of them at the same time holds the token it claimed,
    and a statement waits for it; on PostgreSQL that statement then goes on with its older
    snapshot, without the token the refresh added. The next one sees it (the refresh has
    committed). A refresh that claims a token after this revoked it finds it revoked once
    this commits."""
    unrevoked = condition & RefreshToken.revoked_at.is_(None)
    for _ in range(_MAX_REVOKE_ROUNDS):
        result = await session.execute(update(RefreshToken).where(unrevoked).values(revoked_at=at))
        if _rowcount(result) == 0:
            return


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
