"""Accounts in the database, and (through :class:`~sealbox.accounts.refresh_tokens.RefreshTokens`,
where the rules of their rotation are told) their refresh-token families.

An audited change takes its record (``before_commit``), called in its transaction before
the commit: a record that cannot be written rolls it back (``audit.ChangeRecord``).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sealbox.accounts.models import RefreshToken, User, now, storable_text
from sealbox.accounts.refresh_rules import RefreshOutcome, family_start
from sealbox.accounts.refresh_tokens import (
    REFRESH_PREFIX,
    RefreshTokens,
    SessionsEndedError,
    hash_refresh_token,
    new_refresh_token,
    record_revoked_jti,
    revoke_refresh_tokens,
)
from sealbox.accounts.usernames import lookup_key, skeleton

__all__ = [
    "REFRESH_PREFIX",
    "RefreshOutcome",
    "SessionsEndedError",
    "Store",
    "UsernameTakenError",
    "family_start",
    "hash_refresh_token",
    "new_refresh_token",
    "record_revoked_jti",
    "revoke_refresh_tokens",
]

BeforeCommit = Callable[[], None]


class UsernameTakenError(Exception):
    """The username is already registered."""


class Store(RefreshTokens):
    """Database operations of the service, one short transaction each."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], refresh_ttl: int) -> None:
        self._sessions = sessions
        self.refresh_ttl = refresh_ttl

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """The session factory (for the account administration's own transactions)."""
        return self._sessions

    def _clock(self) -> datetime:
        # One clock for the accounts and their refresh tokens, read through this module
        # (where a test sets it).
        return now()

    # -- users ----------------------------------------------------------------------

    async def create_user(
        self,
        username: str,
        password_hash: str,
        scopes: list[str],
        *,
        before_commit: BeforeCommit | None = None,
    ) -> User:
        """Insert a user under ``username``, which must already be canonical.

        ``before_commit``: the creation's audit record (see the module docstring).

        Raises:
            UsernameTakenError: the name, or one that looks like it (same UTS #39
                skeleton), is taken.
        """
        user = User(
            username=username,
            username_skeleton=skeleton(username),
            password_hash=password_hash,
            scopes=sorted(set(scopes)),
        )
        try:
            async with self._sessions.begin() as session:
                session.add(user)
                if before_commit is not None:
                    await session.flush()  # a taken name is refused before its record
                    before_commit()
        except IntegrityError:
            raise UsernameTakenError(username) from None
        return user

    async def user_by_name(self, username: str) -> User | None:
        async with self._sessions() as session:
            return (
                await session.execute(select(User).where(User.username == username))
            ).scalar_one_or_none()

    async def user_for_login(self, given: str) -> User | None:
        """The account a name typed at login means.

        The name exactly as given first (accounts older than the username rules keep
        their names), then its RFC 8265 canonical form.
        """
        if not storable_text(given):
            return None  # a lone surrogate or a NUL: no name, and no database takes it
        user = await self.user_by_name(given)
        if user is not None:
            return user
        canonical = lookup_key(given)
        if canonical is None or canonical == given:
            return None
        return await self.user_by_name(canonical)

    async def name_is_taken(self, username: str) -> bool:
        """Whether ``username`` (canonical) or a look-alike of it has an account."""
        async with self._sessions() as session:
            found = await session.execute(
                select(User.id)
                .where((User.username == username) | (User.username_skeleton == skeleton(username)))
                .limit(1)
            )
            return found.first() is not None

    async def user_by_id(self, user_id: int) -> User | None:
        async with self._sessions() as session:
            return await session.get(User, user_id)

    async def token_account(self, user_id: int, username: str) -> User | None:
        """The account an access token names (its ``uid`` and ``sub``), or ``None``.

        The name too: on SQLite a deleted account's id is the next account's, and a token
        of the deleted one may outlive a revocation that could not be recorded.
        """
        user = await self.user_by_id(user_id)
        return user if user is not None and user.username == username else None

    async def count_users(self) -> int:
        async with self._sessions() as session:
            return int((await session.execute(select(func.count(User.id)))).scalar_one())

    async def set_password_hash(
        self,
        user_id: int,
        password_hash: str,
        *,
        replacing: str | None = None,
        before_commit: BeforeCommit | None = None,
    ) -> bool:
        """Replace a hash (rehash on login, legacy upgrade); sessions stay valid.

        ``replacing``: the hash the new one upgrades; when the stored hash is no longer it
        (the password was changed or reset since it was read), nothing is written and the
        answer is ``False`` — an upgrade of the old password must not undo the change.
        ``before_commit``: the upgrade's audit record, if one is written.
        """
        condition = User.id == user_id
        if replacing is not None:
            condition = condition & (User.password_hash == replacing)
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(User).where(condition).values(password_hash=password_hash)
            )
            if before_commit is not None and _rowcount(result) == 1:
                before_commit()
        return _rowcount(result) == 1

    async def record_login(self, user_id: int) -> None:
        """Remember the time of a successful login."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(User).where(User.id == user_id).values(last_login_at=now())
            )

    async def change_password(
        self, user_id: int, password_hash: str, *, before_commit: BeforeCommit | None = None
    ) -> int:
        """Replace the hash and end every session of the user; return the new session version.

        ``before_commit``: the change's audit record (see the module docstring)."""
        at = now()
        async with self._sessions.begin() as session:
            await session.execute(
                update(User)
                .where(User.id == user_id)
                .values(password_hash=password_hash, session_version=User.session_version + 1)
            )
            await session.execute(
                update(RefreshToken)
                .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
                .values(revoked_at=at)
            )
            version = (
                await session.execute(select(User.session_version).where(User.id == user_id))
            ).scalar_one()
            if before_commit is not None:
                before_commit()
        return int(version)

    async def session_versions(self) -> dict[int, int]:
        """Every user's session version above 0."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(User.id, User.session_version).where(User.session_version > 0)
            )
            return {uid: int(v) for uid, v in rows.all()}


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
