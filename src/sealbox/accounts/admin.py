"""Account administration: list, show, grant, revoke, disable, enable, reset, delete, import.

:class:`AccountAdmin` holds the operations ``sealbox users …`` and the service's
``/users`` admin routes both call, over the account :class:`~sealbox.accounts.store.Store`
and the :class:`~sealbox.accounts.revocation.Revocations` of the deployment:

- **grant / revoke** change the scopes an account holds. The next login gets the new
  set; a refresh never widens a family's grant but drops what the account no longer
  holds. Access tokens already issued keep their scope until they expire.
- **disable** refuses the account's logins and refreshes, ends its sessions (the
  session version is raised, so live access tokens are refused at once on every
  worker) and revokes its refresh tokens. **enable** lets it log in again; the ended
  sessions stay ended.
- **reset_password** replaces the password and ends every session, as a password
  change does.
- **reset_totp** removes a lost second factor and its recovery codes and ends every
  session, as a reset password does: the tokens made with the lost factor end with it.
- **delete** removes the account and its refresh tokens, and refuses the access tokens
  of its refresh families for as long as any can live (its id may be given to a new
  account).
- **import_users** brings accounts over from another system with their password hashes
  (:mod:`sealbox.accounts.user_import`).

An account is named as at login: the name exactly as stored, else its RFC 8265
canonical form. An unknown name raises :class:`AccountNotFoundError`. No operation
returns or logs a password hash.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sealbox.accounts.audit import ChangeRecord
from sealbox.accounts.models import RefreshToken, User, now, quoted, storable_text
from sealbox.accounts.revocation import KEEP_MARGIN, Revocations, after_commit, kept_until
from sealbox.accounts.scopes import check_scopes
from sealbox.accounts.store import Store
from sealbox.accounts.user_import import ImportReport, parse_json_lines, plan_import, screened
from sealbox.accounts.usernames import MAX_USERNAME
from sealbox.exceptions import ConfigError, SealboxError, StoreUnavailableError
from sealbox.passwords import PasswordHasher

__all__ = ["AccountAdmin", "AccountInfo", "AccountNotFoundError", "LastHolderError"]

# How many times an import is planned again when accounts of its names are made meanwhile.
_IMPORT_ATTEMPTS = 3


class AccountNotFoundError(SealboxError, LookupError):
    """No account has the name given (``facts["username"]``)."""

    code = "account_not_found"

    def __init__(self, username: str) -> None:
        super().__init__(
            f"no account named {quoted(username, MAX_USERNAME)}",
            hint="list the accounts to see their names",
            facts={"username": username[:MAX_USERNAME]},
        )


class LastHolderError(SealboxError):
    """The change would leave no enabled account holding a scope that must keep one
    (``facts["scope"]``, ``facts["username"]``): see ``keep_holder_of``."""

    code = "last_holder"

    def __init__(self, username: str, scope: str) -> None:
        super().__init__(
            f"{username!r} is the last enabled account holding {scope}: refused, as it "
            "would leave none",
            hint=f"grant {scope} to another account first",
            facts={"username": username, "scope": scope},
        )


# Any 64-bit constant: the PostgreSQL advisory lock that takes changes to the holders of
# a kept scope one at a time.
_HOLDERS_LOCK = 0x5EA1B0C5_A0D1_0001


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """An account as administrators see it (never its password hash)."""

    id: int
    username: str
    scopes: tuple[str, ...]
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None

    @classmethod
    def of(cls, user: User) -> AccountInfo:
        return cls(
            id=user.id,
            username=user.username,
            scopes=tuple(sorted(user.scopes)),
            disabled=bool(user.disabled),
            created_at=user.created_at,
            last_login_at=user.last_login_at,
        )


class AccountAdmin:
    """The administration of the accounts of one store.

    Args:
        store: the accounts.
        revocations: where ended sessions are recorded (the deployment's: Redis when
            it has one, so that every worker refuses the tokens at once).
        hasher: hashes new passwords (``reset_password``) and checks imported hashes.
        access_token_ttl: the longest life of an access token, in seconds: how long a
            deleted account's refresh families stay refused.
        run_hasher: runs a hash off the event loop (default: a thread).
        password_policy: called as ``policy(password, username)`` before a password is
            set; raises to refuse it.
        default_scopes: scopes every imported account holds.
        after_change: called after every change that ends sessions (the command line
            announces it to a running service that has no Redis).
        before_change: called before every change that ends sessions, before anything
            is changed; raises to refuse it (the command line refuses one that a running
            service could not be told of).
        keep_holder_of: a scope (the service's ``users:admin``) that some enabled
            account must always hold: disabling, deleting or revoking it from the last
            one raises :class:`LastHolderError`. Checked in the change's transaction,
            one such change at a time, so two administrators disabling each other at
            once cannot both succeed.
        change_record: the audit record of the change this administration makes (one
            account's: not an import's), written in its transaction as its last step
            before the commit, with the account's stored name: a record that cannot be
            written raises :class:`~sealbox.accounts.audit.AuditUnavailableError` and
            changes nothing (:class:`~sealbox.accounts.audit.ChangeRecord`).
    """

    def __init__(
        self,
        store: Store,
        revocations: Revocations,
        hasher: PasswordHasher,
        *,
        access_token_ttl: int,
        run_hasher: Callable[..., Awaitable[Any]] | None = None,
        password_policy: Callable[[str, str], None] | None = None,
        default_scopes: Sequence[str] = (),
        after_change: Callable[[], None] | None = None,
        keep_holder_of: str | None = None,
        before_change: Callable[[], None] | None = None,
        change_record: ChangeRecord | None = None,
    ) -> None:
        self.store = store
        self.keep_holder_of = keep_holder_of
        self.revocations = revocations
        self.hasher = hasher
        self.access_token_ttl = access_token_ttl
        self._run_hasher = run_hasher
        self._policy = password_policy
        self.default_scopes = tuple(default_scopes)
        self._after_change = after_change
        self._before_change = before_change
        self._record = change_record

    # -- reading --------------------------------------------------------------------

    async def list_accounts(
        self, *, limit: int | None = None, after: str | None = None
    ) -> list[AccountInfo]:
        """The accounts, by name: every one, or a page of at most ``limit`` whose names
        come after ``after`` (the last name of the page before, in the database's order).

        Raises:
            ConfigError: ``after`` holds a NUL or a lone surrogate, which no name holds
                and PostgreSQL cannot compare.
        """
        query = select(User).order_by(User.username)
        if after is not None:
            if not storable_text(after):
                raise ConfigError("'after' is no account name: it holds a NUL or a lone surrogate")
            query = query.where(User.username > after)
        if limit is not None:
            query = query.limit(limit)
        async with self.store.sessions() as session:
            users = (await session.execute(query)).scalars()
            return [AccountInfo.of(u) for u in users]

    async def show(self, name: str) -> AccountInfo:
        """One account.

        Raises:
            AccountNotFoundError: no account has that name.
        """
        return AccountInfo.of(await self._find(name))

    # -- scopes ---------------------------------------------------------------------

    async def grant(self, name: str, scopes: Iterable[str]) -> AccountInfo:
        """Add scopes to an account (those it holds already are kept once).

        Raises:
            AccountNotFoundError: no account has that name.
            ConfigError: code ``invalid_scope``, a scope the grammar refuses, or one
                under sealbox's own prefixes that no route of sealbox looks for
                (:func:`~sealbox.accounts.scopes.unknown_own_scope`).
        """
        added = check_scopes(scopes)
        return await self._change_scopes(name, lambda held: held | set(added))

    async def revoke(self, name: str, scopes: Iterable[str]) -> AccountInfo:
        """Take scopes back (those it does not hold are ignored).

        Raises:
            AccountNotFoundError: no account has that name.
            ConfigError: code ``invalid_scope``, a scope the grammar refuses.
        """
        removed = check_scopes(scopes, granting=False)
        return await self._change_scopes(
            name, lambda held: held - set(removed), losing=self.keep_holder_of in removed
        )

    async def _change_scopes(
        self, name: str, change: Callable[[set[str]], set[str]], *, losing: bool = False
    ) -> AccountInfo:
        user = await self._find(name)
        with self._recording():
            async with self.store.sessions.begin() as session:
                current = await self._locked(session, user, name, losing=losing)
                current.scopes = sorted(change(set(current.scopes)))
                self._write_record(current.username)
                return AccountInfo.of(current)

    # -- sessions -------------------------------------------------------------------

    async def disable(self, name: str) -> AccountInfo:
        """Refuse the account's logins, end its sessions and revoke its refresh tokens.

        Raises:
            AccountNotFoundError: no account has that name.
        """
        user = await self._find(name)
        self._before()

        async def disabled(_session: AsyncSession, current: User) -> None:
            current.disabled = True

        return await self._ending_sessions(user, name, disabled, losing=True)

    async def enable(self, name: str) -> AccountInfo:
        """Let a disabled account log in again.

        Raises:
            AccountNotFoundError: no account has that name.
        """
        user = await self._find(name)
        with self._recording():
            async with self.store.sessions.begin() as session:
                current = await _locked_user(session, user, name)
                current.disabled = False
                self._write_record(current.username)
                return AccountInfo.of(current)

    async def reset_password(self, name: str, password: str) -> AccountInfo:
        """Set a new password and end every session of the account.

        Raises:
            AccountNotFoundError: no account has that name.
            SealboxError: the password policy refused the password.
        """
        user = await self._find(name)
        self._before()
        if self._policy is not None:
            self._policy(password, user.username)
        new_hash = await self._hash(password)

        async def reset(_session: AsyncSession, current: User) -> None:
            current.password_hash = new_hash

        return await self._ending_sessions(user, name, reset)  # deleted while hashed?

    async def _ending_sessions(
        self,
        user: User,
        name: str,
        change: Callable[[AsyncSession, User], Awaitable[None]],
        *,
        losing: bool = False,
    ) -> AccountInfo:
        """Make ``change`` to the account locked (:meth:`_locked`), end its sessions (its
        session version raised, its refresh tokens revoked) in the same transaction, then
        tell the revocation lists and ``after_change``."""
        with self._recording():
            async with self.store.sessions.begin() as session:
                current = await self._locked(session, user, name, losing=losing)
                await change(session, current)
                current.session_version += 1
                await _revoke_refresh_tokens(session, user.id)
                info = AccountInfo.of(current)
                version = current.session_version
                await session.flush()  # refused by the database before it is recorded
                self._write_record(current.username)
        await self.revocations.end_sessions(user.id, version)
        self._changed()
        return info

    async def delete(self, name: str) -> AccountInfo:
        """Delete the account, its refresh tokens, and the access tokens issued to it.

        Raises:
            AccountNotFoundError: no account has that name.
        """
        user = await self._find(name)
        self._before()
        horizon = now() - timedelta(seconds=self.access_token_ttl + KEEP_MARGIN)
        with self._recording():
            async with self.store.sessions.begin() as session:
                stored = (await self._locked(session, user, name, losing=True)).username
                families = (
                    await session.execute(
                        select(RefreshToken.family_id)
                        .where(RefreshToken.user_id == user.id, RefreshToken.created_at > horizon)
                        .distinct()
                    )
                ).scalars()
                live = sorted(set(families))
                await session.execute(delete(RefreshToken).where(RefreshToken.user_id == user.id))
                await session.execute(delete(User).where(User.id == user.id))
                self._write_record(stored)
        until = kept_until(self.access_token_ttl)
        missed: StoreUnavailableError | None = None
        for family in live:
            # Every family is told, even past a Redis that stopped answering: each is
            # recorded in the database first and kept to be written to Redis later, and
            # the account is gone, so no repeat of the deletion could reach the rest.
            try:
                with after_commit():
                    await self.revocations.revoke_family(family, until)
            except StoreUnavailableError as exc:
                missed = missed or exc
        # The id may come back for a new account: its session version starts again.
        await self.revocations.reset_sessions(user.id)
        if missed is not None:
            raise missed
        self._changed()
        return AccountInfo.of(user)

    # -- import ---------------------------------------------------------------------

    async def import_users(
        self, records: Iterable[tuple[int, Any]], *, skip_invalid: bool = False
    ) -> ImportReport:
        """Create accounts from records of other systems, with their password hashes.

        ``records`` are ``(line number, parsed JSON value)`` pairs, each an object
        ``{"username", "password_hash", "scopes"}`` (see
        :mod:`sealbox.accounts.user_import` for what is accepted). The lines that are
        invalid, or whose names collide with another line's or an account's under the
        username rules, are reported. Nothing is imported when there is any, unless
        ``skip_invalid``: then every other line is. The accounts are created in one
        transaction; when an account of one of the names is made meanwhile (a
        registration), the lines are checked again and that one is refused.

        Raises:
            ConfigError: code ``username_taken``, accounts of the names kept being made
                while the import was checked again (nothing imported).
            ImportRefusedError: more than
                :data:`~sealbox.accounts.user_import.MAX_REFUSED` lines are refused for
                what they hold (nothing imported, ``skip_invalid`` or not).
        """
        # Planned again if an account of one of the names is made meanwhile.
        records = list(screened(records))
        for _ in range(_IMPORT_ATTEMPTS):
            async with self.store.sessions() as session:
                existing = list((await session.execute(select(User.username))).scalars())
            report = plan_import(records, existing, self.hasher, self.default_scopes)
            if report.problems and not skip_invalid:
                return report.refused()
            if not report.accepted:
                return report
            try:
                async with self.store.sessions.begin() as session:
                    session.add_all(
                        User(
                            username=a.username,
                            username_skeleton=a.skeleton,
                            password_hash=a.password_hash,
                            scopes=list(a.scopes),
                        )
                        for a in report.accepted
                    )
            except IntegrityError:
                # An account of one of these names, or a look-alike, was made since the
                # names were read (a registration): planned again, its line is refused.
                # Not raised as it is: its message holds the statement's parameters.
                continue
            return report
        raise ConfigError(
            "nothing was imported: accounts of these names kept being created meanwhile",
            hint="run the import again",
            code="username_taken",
        )

    async def import_json_lines(
        self, lines: Iterable[str | bytes], *, skip_invalid: bool = False
    ) -> ImportReport:
        """:meth:`import_users` from the lines of a JSON-lines file (blank lines skipped)."""
        return await self.import_users(parse_json_lines(lines), skip_invalid=skip_invalid)

    async def reset_totp(self, name: str) -> tuple[AccountInfo, bool]:
        """Remove the account's second factor and recovery codes, and end every session
        of the account; answer whether it had a factor.

        For a user who lost the authenticator and the recovery codes, or whose factor may
        be known to someone else: the password alone logs in again, the user may enrol
        anew, and the tokens made with the old factor are refused, as a reset password
        ends them (:meth:`reset_password`). The sessions end also when the account has no
        factor (any more): running the command again after Redis missed the end of the
        sessions (``revocation_incomplete``) completes it.

        Raises:
            AccountNotFoundError: no account has that name.
        """
        user = await self._find(name)
        self._before()
        removed = False

        # Imported here: the second factors' tables are no part of the other operations.
        from sealbox.accounts.totp_store import remove_second_factor

        async def remove(session: AsyncSession, current: User) -> None:
            nonlocal removed
            removed = await remove_second_factor(session, current.id)

        return await self._ending_sessions(user, name, remove), removed

    # -- internals ------------------------------------------------------------------

    async def _locked(self, session: AsyncSession, found: User, name: str, *, losing: bool) -> User:
        """The account, locked for the change (:func:`_locked_user`); when the change
        takes the kept scope from it (``losing``), refused if no other enabled account
        holds that scope."""
        kept = self.keep_holder_of if losing else None
        if kept is not None and session.get_bind().dialect.name == "postgresql":
            # Row locks would not do: two such changes lock two different accounts.
            # SQLite takes its one write lock in _locked_user, before the count below.
            await session.execute(select(func.pg_advisory_xact_lock(_HOLDERS_LOCK)))
        user = await _locked_user(session, found, name)
        if kept is None or user.disabled or kept not in user.scopes:
            return user
        others = await session.execute(
            select(User.scopes).where(User.disabled.is_(False), User.id != user.id)
        )
        if not any(kept in scopes for scopes in others.scalars()):
            raise LastHolderError(user.username, kept)
        return user

    async def _find(self, name: str) -> User:
        user = await self.store.user_for_login(name)
        if user is None:
            raise AccountNotFoundError(name)
        return user

    async def _hash(self, password: str) -> str:
        if self._run_hasher is not None:
            return str(await self._run_hasher(self.hasher.hash, password))
        return await asyncio.to_thread(self.hasher.hash, password)

    def _recording(self) -> contextlib.AbstractContextManager[object]:
        """Around a change's transaction: a commit that fails after its record was written
        adds a ``not_committed`` one (:class:`~sealbox.accounts.audit.ChangeRecord`)."""
        return self._record if self._record is not None else contextlib.nullcontext()

    def _write_record(self, username: str) -> None:
        # The last step before the commit: a record refused rolls the change back.
        if self._record is not None:
            self._record.write(user=username)

    def _before(self) -> None:
        if self._before_change is not None:
            self._before_change()

    def _changed(self) -> None:
        if self._after_change is not None:
            self._after_change()


async def _locked_user(session: AsyncSession, found: User, name: str) -> User:
    # A write first: it takes the row's lock on PostgreSQL and the database's write
    # lock on SQLite, so that the read below sees every change committed before it
    # and two administrators' changes are applied one after the other.
    await session.execute(
        update(User).where(User.id == found.id).values(session_version=User.session_version)
    )
    user = await session.get(User, found.id, populate_existing=True)
    if user is None or user.username != found.username:
        # Deleted since it was found, perhaps its id given to a new account.
        raise AccountNotFoundError(name)
    return user


async def _revoke_refresh_tokens(session: AsyncSession, user_id: int) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now())
    )
