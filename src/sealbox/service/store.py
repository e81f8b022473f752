"""Accounts and refresh-token families in the database.

Refresh tokens are opaque random strings; only their SHA-256 is stored. Each use
rotates the token (the old one is marked used, a new one joins the same family);
presenting a token that was already used revokes its whole family, because one of
the two presenters is a thief (RFC 9700, section 4.14.2). The "mark used" step is
a conditional ``UPDATE … WHERE used_at IS NULL``, so two concurrent uses of one
token cannot both succeed.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sealbox.service.db import RefreshToken, RevokedToken, User, now

__all__ = ["RefreshOutcome", "Store", "UsernameTakenError"]

REFRESH_PREFIX = "sbr_"


class UsernameTakenError(Exception):
    """The username is already registered."""


@dataclass(frozen=True, slots=True)
class RefreshOutcome:
    """What presenting a refresh token led to.

    ``status`` is ``ok`` (``user`` and ``token`` set), ``invalid`` (unknown,
    expired or revoked) or ``reused`` (already used: the family was revoked).
    """

    status: str
    user: User | None = None
    token: str | None = None
    family_id: str | None = None


def hash_refresh_token(token: str) -> bytes:
    """The stored form of a refresh token."""
    return hashlib.sha256(token.encode()).digest()


def new_refresh_token() -> str:
    """A fresh opaque refresh token: a prefix and 256 random bits in base64url."""
    return REFRESH_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


class Store:
    """Database operations of the service, one short transaction each."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], refresh_ttl: int) -> None:
        self._sessions = sessions
        self.refresh_ttl = refresh_ttl

    # -- users ----------------------------------------------------------------------

    async def create_user(self, username: str, password_hash: str, scopes: list[str]) -> User:
        """Insert a user.

        Raises:
            UsernameTakenError: the name is taken.
        """
        user = User(username=username, password_hash=password_hash, scopes=sorted(set(scopes)))
        try:
            async with self._sessions.begin() as session:
                session.add(user)
        except IntegrityError:
            raise UsernameTakenError(username) from None
        return user

    async def user_by_name(self, username: str) -> User | None:
        async with self._sessions() as session:
            return (
                await session.execute(select(User).where(User.username == username))
            ).scalar_one_or_none()

    async def user_by_id(self, user_id: int) -> User | None:
        async with self._sessions() as session:
            return await session.get(User, user_id)

    async def count_users(self) -> int:
        async with self._sessions() as session:
            return int((await session.execute(select(func.count(User.id)))).scalar_one())

    async def set_password_hash(self, user_id: int, password_hash: str) -> None:
        """Replace a hash (rehash on login, legacy upgrade); sessions stay valid."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(User).where(User.id == user_id).values(password_hash=password_hash)
            )

    async def change_password(self, user_id: int, password_hash: str) -> int:
        """Replace the hash and end every session of the user; return the new session version."""
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
        return int(version)

    async def session_versions(self) -> dict[int, int]:
        """Every user's session version above 0."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(User.id, User.session_version).where(User.session_version > 0)
            )
            return {uid: int(v) for uid, v in rows.all()}

    # -- refresh tokens -------------------------------------------------------------

    async def issue_refresh(self, user_id: int, family_id: str | None = None) -> tuple[str, str]:
        """Store a new refresh token; return ``(token, family_id)``."""
        token = new_refresh_token()
        family = family_id or secrets.token_hex(16)
        created = now()
        async with self._sessions.begin() as session:
            session.add(
                RefreshToken(
                    token_hash=hash_refresh_token(token),
                    family_id=family,
                    user_id=user_id,
                    created_at=created,
                    expires_at=created + timedelta(seconds=self.refresh_ttl),
                )
            )
        return token, family

    async def use_refresh(self, token: str) -> RefreshOutcome:
        """Rotate a refresh token (see the module docstring)."""
        digest = hash_refresh_token(token)
        at = now()
        async with self._sessions.begin() as session:
            row = (
                await session.execute(select(RefreshToken).where(RefreshToken.token_hash == digest))
            ).scalar_one_or_none()
            if row is None or row.revoked_at is not None or row.expires_at <= at:
                return RefreshOutcome("invalid")
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
                await self._revoke_family(session, row.family_id, at)
                return RefreshOutcome("reused", family_id=row.family_id)
            user = await session.get(User, row.user_id)
            if user is None:
                return RefreshOutcome("invalid")
            new = new_refresh_token()
            session.add(
                RefreshToken(
                    token_hash=hash_refresh_token(new),
                    family_id=row.family_id,
                    user_id=row.user_id,
                    created_at=at,
                    expires_at=at + timedelta(seconds=self.refresh_ttl),
                )
            )
        return RefreshOutcome("ok", user=user, token=new, family_id=row.family_id)

    async def revoke_family_of(self, token: str, user_id: int) -> bool:
        """Revoke the family of ``token`` if it belongs to ``user_id``; return whether it did."""
        digest = hash_refresh_token(token)
        async with self._sessions.begin() as session:
            row = (
                await session.execute(select(RefreshToken).where(RefreshToken.token_hash == digest))
            ).scalar_one_or_none()
            if row is None or row.user_id != user_id:
                return False
            await self._revoke_family(session, row.family_id, now())
            return True

    @staticmethod
    async def _revoke_family(session: AsyncSession, family_id: str, at: datetime) -> None:
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    # -- revoked access tokens ------------------------------------------------------

    async def revoke_jti(self, jti: str, expires_at: datetime) -> None:
        """Record a revoked access-token id (idempotent)."""
        async with self._sessions.begin() as session:
            await session.merge(RevokedToken(jti=jti, expires_at=expires_at))

    async def revoked_jtis(self) -> dict[str, datetime]:
        """The revoked ids that have not expired yet."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(RevokedToken.jti, RevokedToken.expires_at).where(
                    RevokedToken.expires_at > now()
                )
            )
            return dict(rows.all())


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
