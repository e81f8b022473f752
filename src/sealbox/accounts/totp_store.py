"""The second factor of accounts in the database: enrolment, login check, disable, reset.

Tables: ``user_totp`` (one row per account: the secret sealed under the master key, the
state ``pending`` or ``confirmed``, the last time step accepted) and
``totp_recovery_codes`` (the SHA-256 of each code, and when it was used).

Every acceptance is one conditional ``UPDATE``, so that several workers (or hosts)
sharing the database accept a code once between them:

- a TOTP code moves ``last_step`` forward — ``… WHERE last_step < :step`` — and only
  the request whose update changed a row succeeds; any later code of that step, or of
  an earlier one, is refused (RFC 6238 §5.2);
- a recovery code is marked used — ``… WHERE used_at IS NULL``.

States: no row (no second factor) → :meth:`TotpStore.begin` → ``pending`` (begin again
replaces the secret) → :meth:`TotpStore.confirm` with a current code → ``confirmed``,
with new recovery codes → :meth:`TotpStore.disable` with a current code, or
:meth:`TotpStore.reset` by an administrator → no row.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, delete, select
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from sealbox.accounts.models import Base, UTCDateTime, now
from sealbox.accounts.totp import (
    Enrolment,
    TotpError,
    TotpSecretSealer,
    encode_secret,
    hash_recovery_code,
    is_totp_code,
    match_step,
    new_recovery_codes,
    new_secret,
    otpauth_uri,
)

__all__ = [
    "TotpRecoveryCode",
    "TotpStore",
    "UserTotp",
    "has_confirmed_factor",
    "remove_second_factor",
    "reset_second_factor",
]

PENDING: Final = "pending"
CONFIRMED: Final = "confirmed"


class UserTotp(Base):
    """An account's TOTP secret, sealed, its state and the last time step accepted."""

    __tablename__ = "user_totp"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    # Codes of this step and earlier ones are refused (replay).
    last_step: Mapped[int] = mapped_column(BigInteger, nullable=False, default=-1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=now)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class TotpRecoveryCode(Base):
    """One recovery code of an account, as its SHA-256; usable until ``used_at`` is set."""

    __tablename__ = "totp_recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        Index("ix_totp_recovery_codes_user_code", "user_id", "code_hash", unique=True),
    )


class TotpStore:
    """Second factors of accounts, one short transaction per operation.

    Args:
        sessions: the database's session factory.
        sealer: seals the secrets under the master key.
        issuer: the name authenticator apps show beside the account (the service's issuer).
        clock: the unix time (injectable for tests).
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        sealer: TotpSecretSealer,
        *,
        issuer: str = "sealbox",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sessions = sessions
        self._sealer = sealer
        self.issuer = issuer
        self.clock = clock

    def __repr__(self) -> str:
        return f"TotpStore(issuer={self.issuer!r})"

    async def state(self, user_id: int) -> str | None:
        """``pending``, ``confirmed``, or ``None`` (no second factor)."""
        async with self._sessions() as session:
            return (
                await session.execute(select(UserTotp.state).where(UserTotp.user_id == user_id))
            ).scalar_one_or_none()

    async def begin(self, user_id: int, username: str) -> Enrolment:
        """Start (or restart) an enrolment with a new secret.

        Raises:
            TotpError: ``totp_already_enabled``, the account has a confirmed factor.
        """
        key = new_secret()
        sealed = self._sealer.seal(user_id, key)
        for _attempt in range(3):
            try:
                async with self._sessions.begin() as session:
                    await session.execute(
                        delete(UserTotp).where(
                            UserTotp.user_id == user_id, UserTotp.state == PENDING
                        )
                    )
                    session.add(
                        UserTotp(user_id=user_id, secret_sealed=sealed, state=PENDING, last_step=-1)
                    )
                break
            except IntegrityError:
                # A confirmed row, or a concurrent enrolment's pending one: look again.
                if await self.state(user_id) == CONFIRMED:
                    raise _already_enabled() from None
        else:
            raise TotpError("the enrolment kept colliding with another", code="totp_not_pending")
        secret = encode_secret(key)
        return Enrolment(secret, otpauth_uri(secret, username, self.issuer))

    async def confirm(self, user_id: int, code: str) -> list[str]:
        """Confirm the pending enrolment with a current code; return new recovery codes.

        The code's step is recorded: it cannot be used again to log in.

        Raises:
            TotpError: ``totp_not_pending`` (no enrolment under way),
                ``totp_already_enabled`` or ``totp_code_invalid``.
        """
        codes = new_recovery_codes()
        async with self._sessions.begin() as session:
            row = await self._row(session, user_id)
            if row is None or row.state != PENDING:
                if row is not None and row.state == CONFIRMED:
                    raise _already_enabled()
                raise TotpError("no enrolment is under way", code="totp_not_pending")
            step = self._match(row, code)
            if step is None or not await _advance(session, row, step, CONFIRMED):
                # A right code that lost to a concurrent confirmation (a double click) is
                # answered as a confirmation sent after it would be.
                if step is not None and await _state(session, user_id) == CONFIRMED:
                    raise _already_enabled()
                raise _invalid_code()
            await session.execute(
                delete(TotpRecoveryCode).where(TotpRecoveryCode.user_id == user_id)
            )
            session.add_all(
                TotpRecoveryCode(user_id=user_id, code_hash=hash_recovery_code(c)) for c in codes
            )
        return codes

    async def check_login(self, user_id: int, otp: str | None, *, spend: bool = True) -> None:
        """The second factor of a login whose password was right.

        ``otp`` is a current TOTP code (accepted once) or an unused recovery code (used
        up). Without a confirmed factor nothing is asked and ``otp`` is ignored. With
        ``spend=False`` a right code is checked and left unspent: for a login refused
        after this check (no token issued), whose code must stay good for the next.

        Raises:
            TotpError: ``mfa_required`` (the account has a second factor and ``otp`` is
                empty) or ``totp_code_invalid`` (a wrong, expired, replayed or used code).
        """
        async with self._sessions.begin() as session:
            await self.check_login_in(session, user_id, otp, spend=spend)

    async def check_login_in(
        self, session: AsyncSession, user_id: int, otp: str | None, *, spend: bool = True
    ) -> None:
        """:meth:`check_login` in the caller's transaction: the login's, whose session and
        audit record commit with the code's spending, or not at all."""
        row = await self._row(session, user_id)
        if row is None or row.state != CONFIRMED:
            return
        if not otp:
            raise TotpError("a second factor is required", code="mfa_required")
        if is_totp_code(otp):
            step = self._match(row, otp)
            ok = step is not None and (not spend or await _advance(session, row, step))
        else:
            ok = await _use_recovery_code(session, user_id, otp, spend=spend)
        if not ok:
            raise _invalid_code()

    async def recovery_codes_left(self, user_id: int) -> int:
        """How many recovery codes of the account are unused."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(TotpRecoveryCode.id).where(
                    TotpRecoveryCode.user_id == user_id, TotpRecoveryCode.used_at.is_(None)
                )
            )
            return len(rows.all())

    async def disable(self, user_id: int, code: str) -> None:
        """Remove a confirmed second factor, given a current TOTP code (accepted once).

        Raises:
            TotpError: ``totp_not_enabled`` or ``totp_code_invalid``.
        """
        async with self._sessions.begin() as session:
            row = await self._row(session, user_id)
            if row is None or row.state != CONFIRMED:
                raise TotpError("no second factor is enabled", code="totp_not_enabled")
            step = self._match(row, code)
            if step is None or not await _advance(session, row, step):
                raise _invalid_code()
            await _remove(session, user_id)

    async def reset(self, user_id: int) -> bool:
        """Remove the account's second factor (an administrator's act); whether there was one."""
        return await reset_second_factor(self._sessions, user_id)

    async def _row(self, session: AsyncSession, user_id: int) -> UserTotp | None:
        return (
            await session.execute(select(UserTotp).where(UserTotp.user_id == user_id))
        ).scalar_one_or_none()

    def _match(self, row: UserTotp, code: str) -> int | None:
        key = self._sealer.open(row.user_id, row.secret_sealed)
        return match_step(key, code, self.clock(), after=row.last_step)


async def has_confirmed_factor(sessions: async_sessionmaker[AsyncSession], user_id: int) -> bool:
    """Whether the account has a confirmed second factor. It needs no master key: accounts
    that cannot check a code (no :class:`TotpStore`) ask it to refuse such an account's
    login rather than let its password alone in."""
    async with sessions() as session:
        return await _state(session, user_id) == CONFIRMED


async def reset_second_factor(sessions: async_sessionmaker[AsyncSession], user_id: int) -> bool:
    """Remove an account's second factor and recovery codes; whether it had one.

    What an administrator does for a user who lost the authenticator and the recovery
    codes. It needs no master key: nothing is opened.
    """
    async with sessions.begin() as session:
        return await _remove(session, user_id)


async def remove_second_factor(session: AsyncSession, user_id: int) -> bool:
    """:func:`reset_second_factor` in the caller's transaction (one that holds the
    account's row, checked to be the account meant)."""
    return await _remove(session, user_id)


async def _advance(
    session: AsyncSession, row: UserTotp, step: int, new_state: str | None = None
) -> bool:
    """Record ``step`` as accepted unless it (or a later one) already was: one ``UPDATE``.

    It matches the row as it was read (state and sealed secret): a code of a secret that a
    new enrolment replaced meanwhile changes nothing.
    """
    values: dict[str, Any] = {"last_step": step}
    if new_state is not None:
        values.update(state=new_state, confirmed_at=now())
    result = await session.execute(
        sql_update(UserTotp)
        .where(
            UserTotp.user_id == row.user_id,
            UserTotp.state == row.state,
            UserTotp.secret_sealed == row.secret_sealed,
            UserTotp.last_step < step,
        )
        .values(**values)
    )
    return _rowcount(result) == 1


async def _state(session: AsyncSession, user_id: int) -> str | None:
    """The state as committed now (a column read: no stale object of the session)."""
    return (
        await session.execute(select(UserTotp.state).where(UserTotp.user_id == user_id))
    ).scalar_one_or_none()


async def _use_recovery_code(
    session: AsyncSession, user_id: int, text: str, *, spend: bool = True
) -> bool:
    if not spend:
        unused = await session.execute(
            select(TotpRecoveryCode.id).where(
                TotpRecoveryCode.user_id == user_id,
                TotpRecoveryCode.code_hash == hash_recovery_code(text),
                TotpRecoveryCode.used_at.is_(None),
            )
        )
        return unused.first() is not None
    result = await session.execute(
        sql_update(TotpRecoveryCode)
        .where(
            TotpRecoveryCode.user_id == user_id,
            TotpRecoveryCode.code_hash == hash_recovery_code(text),
            TotpRecoveryCode.used_at.is_(None),
        )
        .values(used_at=now())
    )
    return _rowcount(result) == 1


async def _remove(session: AsyncSession, user_id: int) -> bool:
    await session.execute(delete(TotpRecoveryCode).where(TotpRecoveryCode.user_id == user_id))
    result = await session.execute(delete(UserTotp).where(UserTotp.user_id == user_id))
    return _rowcount(result) > 0


def _invalid_code() -> TotpError:
    return TotpError("the code is not valid", code="totp_code_invalid")


def _already_enabled() -> TotpError:
    return TotpError("a second factor is already enabled", code="totp_already_enabled")


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
