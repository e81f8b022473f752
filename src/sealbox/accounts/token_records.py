"""Refresh tokens as introspection and revocation read them (:mod:`sealbox.accounts.grants`):
the stored row, its account, and when its family ends (its login plus the families'
absolute lifetime, :func:`~sealbox.accounts.refresh_rules.family_end`), which ends every
token of the family whatever its own expiry says.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sealbox.accounts.models import RefreshToken, User, now
from sealbox.accounts.refresh_rules import family_end
from sealbox.accounts.store import REFRESH_PREFIX, family_start, hash_refresh_token

__all__ = ["RefreshRecord", "family_ends_at", "refresh_record"]


@dataclass(frozen=True, slots=True)
class RefreshRecord:
    """A refresh token as stored, with its account and its family's end."""

    family_id: str
    user: User
    scope: str | None
    created_at: datetime
    expires_at: datetime
    used: bool
    revoked: bool
    cnf_x5t: str | None = None
    client_id: str | None = None
    #: When its family ends (``None``: no absolute lifetime, or no family start read).
    ends_at: datetime | None = None

    @property
    def live(self) -> bool:
        at = now()
        ended = self.ends_at is not None and self.ends_at <= at
        return not self.used and not self.revoked and self.expires_at > at and not ended


async def family_ends_at(
    session: AsyncSession, family_id: str, family_ttl: int | None
) -> datetime | None:
    """When the refresh family ``family_id`` ends: its first token's issue time (its
    login's) plus ``family_ttl`` (as :func:`~sealbox.accounts.refresh_rules.family_end`)."""
    if family_ttl is None:
        return None
    started = (
        await session.execute(
            select(func.min(RefreshToken.created_at)).where(RefreshToken.family_id == family_id)
        )
    ).scalar_one_or_none()
    return family_end(started, family_ttl)


async def refresh_record(
    sessions: async_sessionmaker[AsyncSession], token: str, family_ttl: int | None = None
) -> RefreshRecord | None:
    """The stored record of ``token``, or ``None`` for one that is no refresh token sealbox
    stored (or whose account is gone); ``family_ttl``: the families' absolute lifetime."""
    if not token.startswith(REFRESH_PREFIX) or len(token) > 512:
        return None
    async with sessions() as session:
        found = (
            await session.execute(
                select(RefreshToken, family_start()).where(
                    RefreshToken.token_hash == hash_refresh_token(token)
                )
            )
        ).one_or_none()
        if found is None:
            return None
        row, started = found
        user = await session.get(User, row.user_id)
    if user is None:
        return None
    return RefreshRecord(
        row.family_id,
        user,
        row.scope,
        row.created_at,
        row.expires_at,
        used=row.used_at is not None,
        revoked=row.revoked_at is not None,
        # A client's family is bound to the client, not to a certificate (RFC 8705 §7.1),
        # also when an earlier version wrote one down.
        cnf_x5t=row.cnf_x5t if row.client_id is None else None,
        client_id=row.client_id,
        ends_at=family_end(started, family_ttl),
    )
