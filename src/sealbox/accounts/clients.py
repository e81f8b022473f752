"""OAuth 2 clients for machines: registration, secrets with rotation, client authentication.

A client is a program, not a person: it has a name (its label, unique), a generated
``client_id`` (RFC 6749 §2.2, not a secret), the scopes it may be granted, and one or
both ways to authenticate at the token, revocation and introspection endpoints:

- **a secret** (``client_secret_basic``, RFC 6749 §2.3.1; ``client_secret_post``): 256
  random bits shown once when made. Only its SHA-256 is stored. A fast unkeyed hash is
  enough here, as for refresh tokens: a 256-bit random value cannot be guessed from its
  hash, so a slow or keyed hash would add cost without protecting anything, and the
  database stays usable without the service's master key. Checks compare digests with
  :func:`hmac.compare_digest`, the current and the previous secret both, every time.
- **a certificate** (``tls_client_auth``, RFC 8705 §2.1): the client is registered with
  the subject distinguished name (RFC 4514) of its certificate, and a request over a
  mutual-TLS connection whose verified certificate has that subject, naming the client
  by ``client_id``, authenticates it. The PKI (the service's client CA) vouches for the
  certificate, so a renewed certificate with the same subject keeps working.

Rotating a secret (:meth:`ClientStore.rotate_secret`) makes a new one and keeps the old
one valid for an overlap, so the programs using it can be redeployed without a gap.

A client has a session version, as an account has (migration 0011): its access tokens
name it in ``sid`` (:func:`~sealbox.accounts.grants.client_family`), and ending them
(:meth:`ClientStore.disable`, a rotation that ends the tokens) writes the change's
audit record, refuses the family of the current version on the revocation lists, then
raises the version, in one transaction: tokens issued before are refused on every worker,
the ones issued after pass, and a record refused ends none. A disabled client does
not authenticate (:class:`ClientDisabledError`) until it is enabled again.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from datetime import timedelta
from typing import Any, Final

from sqlalchemy import (
    case,
    delete,
    func,
    literal,
    null,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sealbox.accounts.audit import ChangeRecord
from sealbox.accounts.client_checks import check_client_name, check_scopes, check_subject_dn
from sealbox.accounts.client_models import (
    ClientDisabledError,
    ClientInfo,
    ClientNotFoundError,
    NewSecret,
    OAuthClient,
)
from sealbox.accounts.client_secrets import (
    CLIENT_ID_PREFIX,
    CLIENT_SECRET_PREFIX,
    MAX_SECRET,
    hash_client_secret,
    new_client_id,
    new_client_secret,
)
from sealbox.accounts.models import (
    RefreshToken,
    UTCDateTime,
    now,
    quoted,
    storable_text,
)
from sealbox.accounts.revocation import after_commit
from sealbox.accounts.subject_dn import subject_dn_key
from sealbox.exceptions import ConfigError
from sealbox.secret import Secret

__all__ = [
    "CLIENT_ID_PREFIX",
    "CLIENT_SECRET_PREFIX",
    "ClientDisabledError",
    "ClientInfo",
    "ClientNotFoundError",
    "ClientStore",
    "NewSecret",
    "OAuthClient",
    "check_client_name",
    "check_scopes",
    "hash_client_secret",
]

# Times a change that ends a client's tokens is tried when another such change of the
# same client keeps coming in between (each is retried with the version it raised).
_ENDING_ATTEMPTS: Final = 8

#: Called with a client (as it is, its current session version) before that version is
#: raised: it refuses the tokens naming it (:func:`~sealbox.accounts.grants.end_client_tokens`),
#: and the families of its users' logins, up to :attr:`ClientInfo.sweep_through` when set
#: (:func:`~sealbox.accounts.grants.revoke_client_tokens`).
EndTokens = Callable[["ClientInfo"], Awaitable[None]]
#: Called with the client as the change leaves it, as the last step of the change's
#: transaction: the change's audit record. Raising rolls the change back (a client made
#: does not exist, nothing is changed).
BeforeCommit = Callable[["ClientInfo"], None]


def _enabled(client: ClientInfo) -> ClientInfo:
    """``client``, unless it is disabled (:class:`ClientDisabledError`)."""
    if client.disabled:
        raise ClientDisabledError(
            f"client {client.client_id} is disabled", facts={"client_id": client.client_id}
        )
    return client


def _last(before_commit: BeforeCommit | None, client: ClientInfo) -> None:
    # The transaction's last step: a record refused rolls the change back.
    if before_commit is not None:
        before_commit(client)


def _refused(client: ClientInfo) -> None:
    # Refused on the revocation lists, which no rollback undoes: a not_committed record says so.
    if (record := ChangeRecord.open()) is not None:
        record.keeps(
            f"the tokens of version {client.session_version} stay refused until they expire"
        )


def _shown(values: dict[str, Any]) -> dict[str, Any]:
    # What a record written before the row is changed sees of the change.
    return {"disabled": True} if values.get("disabled") else {}


def _busy(name: str) -> ConfigError:
    return ConfigError(
        f"the tokens of client {name!r} could not be ended: other changes ending them "
        "kept coming in between",
        hint="try again",
        code="client_busy",
        facts={"name": name},
    )


def _not_found(name: str) -> ClientNotFoundError:
    return ClientNotFoundError(
        f"there is no client named {quoted(name, 80)}",
        facts={"name": name[:80]},
        hint="list the clients",
    )


class ClientStore:
    """The clients in the database, one short transaction per operation."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """The database sessions the store works in."""
        return self._sessions

    async def create(
        self,
        name: str,
        scopes: Iterable[str],
        *,
        subject_dn: str | None = None,
        with_secret: bool = True,
        before_commit: BeforeCommit | None = None,
    ) -> NewSecret:
        """Register a client; return it with its secret (``None`` without ``with_secret``).

        Args:
            name: the client's unique name (:func:`check_client_name`).
            scopes: what it may be granted.
            subject_dn: its certificate's subject (RFC 4514) for ``tls_client_auth``.
            with_secret: make a secret (a certificate-only client has none).
            before_commit: the creation's record (:data:`BeforeCommit`).

        Raises:
            ConfigError: a bad name, scope or certificate subject, neither secret nor
                certificate, or the name is taken (code ``client_exists``).
        """
        check_client_name(name)
        granted = check_scopes(scopes)
        if subject_dn is not None:
            check_subject_dn(subject_dn)
        if not with_secret and not subject_dn:
            raise ConfigError(
                "a client needs a secret or a certificate subject to authenticate with",
                code="client_needs_credentials",
            )
        secret = new_client_secret() if with_secret else None
        at = now()
        row = OAuthClient(
            client_id=new_client_id(),
            name=name,
            scopes=granted,
            secret_hash=hash_client_secret(secret) if secret else None,
            subject_dn=subject_dn or None,
            created_at=at,
            secret_rotated_at=at if secret else None,
        )
        try:
            async with self._sessions.begin() as session:
                session.add(row)
                await session.flush()  # a taken name is refused before its record
                _last(before_commit, ClientInfo.of(row))
        except IntegrityError:
            raise ConfigError(
                f"a client named {name!r} exists already",
                code="client_exists",
                facts={"name": name},
            ) from None
        return NewSecret(ClientInfo.of(row), Secret(secret) if secret else None)

    async def list(self) -> list[ClientInfo]:
        """Every client, by name."""
        async with self._sessions() as session:
            rows = (await session.execute(select(OAuthClient).order_by(OAuthClient.name))).scalars()
            return [ClientInfo.of(row) for row in rows]

    async def get(self, name: str) -> ClientInfo:
        """The client named ``name``.

        Raises:
            ClientNotFoundError: no such client.
        """
        async with self._sessions() as session:
            row = await self._by_name(session, name)
            return ClientInfo.of(row)

    async def by_client_id(self, client_id: str) -> ClientInfo | None:
        """The client with ``client_id``, or ``None``."""
        if not storable_text(client_id):
            return None
        async with self._sessions() as session:
            row = (
                await session.execute(select(OAuthClient).where(OAuthClient.client_id == client_id))
            ).scalar_one_or_none()
            return None if row is None else ClientInfo.of(row)

    async def rotate_secret(
        self,
        name: str,
        overlap: int = 0,
        *,
        end: EndTokens | None = None,
        before_commit: BeforeCommit | None = None,
    ) -> NewSecret:
        """Give the client a new secret; the current one stays valid ``overlap`` seconds.

        A secret still in its overlap from an earlier rotation ends now: at most two
        secrets are ever valid. With ``end``, the access tokens issued before end too
        (:meth:`disable` says how); the new secret's tokens pass.

        Raises:
            ClientNotFoundError: no such client.
            ConfigError: a negative overlap; code ``client_busy``, see :meth:`disable`.
            Exception: what ``before_commit`` or ``end`` raises (nothing is changed then).
        """
        if overlap < 0:
            raise ConfigError("the overlap must be 0 or more seconds", code="bad_overlap")
        secret = new_client_secret()
        at = now()
        if not storable_text(name):  # PostgreSQL takes no NUL
            raise _not_found(name)
        # One UPDATE that reads the secret it replaces from the row itself: read first and
        # written after, two rotations at once (the command line beside the service) would
        # each keep the secret both replaced, and the first's new secret would be lost
        # while the original stayed valid through the overlap.
        current = OAuthClient.secret_hash
        kept = case((current.is_not(None), current), else_=null()) if overlap > 0 else null()
        until = literal(at + timedelta(seconds=overlap), UTCDateTime())
        expires = case((current.is_not(None), until), else_=null()) if overlap > 0 else null()
        values: dict[str, Any] = {
            "previous_secret_hash": kept,
            "previous_secret_expires_at": expires,
            "secret_hash": hash_client_secret(secret),
            "secret_rotated_at": at,
        }
        if end is not None:
            ended = await self._end_tokens(name, end, values, before_commit)
            return NewSecret(ended, Secret(secret))
        rotate = (
            update(OAuthClient)
            .where(OAuthClient.name == name)
            .values(values)
            .execution_options(synchronize_session=False)
        )
        async with self._sessions.begin() as session:
            await session.execute(rotate)
            info = ClientInfo.of(await self._by_name(session, name))  # none: nothing changed
            _last(before_commit, info)
        return NewSecret(info, Secret(secret))

    async def disable(
        self, name: str, end: EndTokens, *, before_commit: BeforeCommit | None = None
    ) -> ClientInfo:
        """Refuse the client's authentication and end the access tokens it holds.

        One transaction writes the change's record (``before_commit``), then calls ``end``
        with the client as it is, which refuses the tokens of its session version (on the
        revocation lists, shared by every worker), then disables the client and raises its
        version, so that its tokens name the new one from then on, and commits. A record
        refused changes nothing and ends no token; ``end`` failing changes nothing (what
        it refused stays refused); a commit that fails after ``end`` leaves the client as
        it was with the tokens of its version refused until they expire (fail-closed), as
        the ``not_committed`` record of the open :class:`~sealbox.accounts.audit.ChangeRecord`
        then says (:meth:`~sealbox.accounts.audit.ChangeRecord.keeps`).
        When another such change raised the version meanwhile, the change is taken again
        with the new one (:class:`ConfigError` ``client_busy`` once recorded). ``end`` is
        then called once more for the users' logins through the client that began before
        the change and were not yet stored at the first call (see :meth:`_end_tokens`).

        Raises:
            ClientNotFoundError: no such client.
            ConfigError: code ``client_busy``, other changes ending its tokens kept
                coming in between.
            Exception: what ``before_commit`` or ``end`` raises (nothing is changed
                then); from the second call, after the commit, the change is made (a full
                SQLite disk is :class:`~sealbox.accounts.db_unreachable.DatabaseFullError`
                with ``change_made``).
        """
        return await self._end_tokens(name, end, {"disabled": True}, before_commit)

    async def enable(self, name: str, *, before_commit: BeforeCommit | None = None) -> ClientInfo:
        """Let a disabled client authenticate again (its ended tokens stay refused).

        Raises:
            ClientNotFoundError: no such client.
        """
        if not storable_text(name):
            raise _not_found(name)
        async with self._sessions.begin() as session:
            await session.execute(
                update(OAuthClient)
                .where(OAuthClient.name == name)
                .values(disabled=False)
                .execution_options(synchronize_session=False)
            )
            info = ClientInfo.of(await self._by_name(session, name))
            _last(before_commit, info)
            return info

    async def _end_tokens(
        self,
        name: str,
        end: EndTokens,
        values: dict[str, Any],
        before_commit: BeforeCommit | None = None,
    ) -> ClientInfo:
        """Make the change with ``values`` set and the client's version raised, in one
        transaction that writes its record (``before_commit``), then calls ``end`` for the
        tokens of the version it raises, then writes the row and commits; once committed,
        ``end`` the users' families begun meanwhile.

        In that order, a record refused ends no token, and the tokens are refused before
        any request can see the change. The row is written last, and not held before: its
        lock (SQLite's write lock on the whole file) would stop the revocation lists'
        writes of ``end`` on the same database. A change that raised the version since it
        was read is seen before the record (the change is then taken again with the new
        version), or by the write itself, after the record and ``end`` (``client_busy``:
        the record is followed by a ``not_committed`` one). A password login stores its
        family only while the client is at the version it authenticated at, holding the
        client's row as the raise does (:meth:`~sealbox.accounts.store.Store.issue_refresh`):
        the read after the raise sees its family, or it stores nothing. The second ``end``
        takes the families up to the last row read (:attr:`ClientInfo.sweep_through`), none
        of a login at the new version (a rotation's new secret)."""
        for _ in range(_ENDING_ATTEMPTS):
            found = await self.get(name)
            async with self._sessions.begin() as session:
                if await self._version(session, found.client_id) != found.session_version:
                    continue  # raised meanwhile by a racing change: nothing written yet
                # The record, then the tokens ended: a record refused ends none.
                _last(before_commit, replace(found, **_shown(values)))
                await end(found)
                _refused(found)
                # Only if the version is still the one ended: one raised meanwhile by a
                # racing change may already name tokens the refusal above does not cover.
                changed = await session.execute(
                    update(OAuthClient)
                    .where(
                        OAuthClient.client_id == found.client_id,
                        OAuthClient.session_version == found.session_version,
                    )
                    .values({**values, "session_version": OAuthClient.session_version + 1})
                    .execution_options(synchronize_session=False)
                )
                if (getattr(changed, "rowcount", 0) or 0) != 1:
                    raise _busy(name)  # recorded: the record's not_committed one follows
                # After the raise, which waited for the logins holding the row: the first
                # end revoked only the families it read, so those it missed are live.
                through = (
                    await session.execute(
                        select(func.max(RefreshToken.id)).where(
                            RefreshToken.client_id == found.client_id,
                            RefreshToken.revoked_at.is_(None),
                        )
                    )
                ).scalar_one_or_none()
                info = ClientInfo.of(await self._by_name(session, name))
            if through is not None:
                with after_commit():  # the change is committed: a refusal lost undoes nothing
                    await end(replace(found, sweep_through=through))
            return info
        raise _busy(name)

    @staticmethod
    async def _version(session: AsyncSession, client_id: str) -> int | None:
        """The client's session version (read, not held: see :meth:`_end_tokens`)."""
        query = select(OAuthClient.session_version).where(OAuthClient.client_id == client_id)
        return (await session.execute(query)).scalar_one_or_none()

    async def set_scopes(self, name: str, scopes: Iterable[str]) -> ClientInfo:
        """Replace what the client may be granted (tokens already issued keep theirs).

        Raises:
            ClientNotFoundError: no such client.
            ConfigError: a bad scope.
        """
        granted = check_scopes(scopes)
        async with self._sessions.begin() as session:
            row = await self._by_name(session, name)
            row.scopes = granted
            return ClientInfo.of(row)

    async def grant(
        self, name: str, scopes: Iterable[str], *, before_commit: BeforeCommit | None = None
    ) -> ClientInfo:
        """Add scopes to what the client may be granted (those it holds are kept once).

        Raises:
            ClientNotFoundError: no such client.
            ConfigError: code ``bad_scope``.
        """
        added = set(check_scopes(scopes))
        return await self._change_scopes(name, lambda held: held | added, before_commit)

    async def revoke(
        self, name: str, scopes: Iterable[str], *, before_commit: BeforeCommit | None = None
    ) -> ClientInfo:
        """Take scopes back (those it does not hold are ignored). Its next token lacks
        them; a token it holds keeps them until it expires, but the routes that look at
        what the caller still holds (the administrators' ones) refuse them at once.

        Raises:
            ClientNotFoundError: no such client.
            ConfigError: code ``bad_scope``, a scope the grammar refuses (one under
                sealbox's prefixes that no route looks for can still be taken back).
        """
        removed = set(check_scopes(scopes, granting=False))
        return await self._change_scopes(name, lambda held: held - removed, before_commit)

    async def _change_scopes(
        self,
        name: str,
        change: Callable[[set[str]], set[str]],
        before_commit: BeforeCommit | None,
    ) -> ClientInfo:
        if not storable_text(name):
            raise _not_found(name)
        async with self._sessions.begin() as session:
            # A write first: it takes the row's lock on PostgreSQL and the write lock on
            # SQLite, so that two changes at once (the command line beside an
            # administrator over HTTP) apply one after the other, neither lost.
            await session.execute(
                update(OAuthClient)
                .where(OAuthClient.name == name)
                .values(name=OAuthClient.name)
                .execution_options(synchronize_session=False)
            )
            row = await self._by_name(session, name)
            row.scopes = sorted(change(set(row.scopes)))
            await session.flush()
            info = ClientInfo.of(row)
            _last(before_commit, info)
            return info

    async def delete(
        self,
        name: str,
        *,
        client_id: str | None = None,
        end: EndTokens | None = None,
        before_commit: BeforeCommit | None = None,
    ) -> ClientInfo:
        """Remove the client: its secrets and certificate stop authenticating at once.

        With ``end``, the deletion's transaction writes its record, then calls ``end`` for the
        client's tokens, then deletes it, as :meth:`disable` orders it: a record refused
        ends no token, and no token of the client passes once it is gone. Tokens of a
        password login that raced it may be stored meanwhile on SQLite: end them once it
        is committed (:func:`~sealbox.accounts.grants.revoke_client_tokens` with the
        client returned). ``client_id``: the client to remove, not one made anew under
        the same name in between.

        Raises:
            ClientNotFoundError: no such client (or, with ``client_id``, the name now
                names another client).
            Exception: what ``end`` raises (nothing is changed then).
        """
        async with self._sessions.begin() as session:
            row = await self._by_name(session, name)
            if client_id is not None and row.client_id != client_id:
                raise _not_found(name)
            info = ClientInfo.of(row)
            if end is not None:
                version = await self._version(session, info.client_id)  # read, not held
                if version is None:
                    raise _not_found(name)
                info = replace(info, session_version=version)
                _last(before_commit, info)  # the record, then the tokens ended
                await end(info)
                _refused(info)
            await session.execute(delete(OAuthClient).where(OAuthClient.id == row.id))
            if end is None:
                _last(before_commit, info)
        return info

    async def authenticate_secret(self, client_id: str, secret: str) -> ClientInfo | None:
        """The client if ``secret`` is its current secret or its previous one in the overlap.

        ``None`` for anything else (unknown client, wrong or expired secret, a client
        without a secret), after the same comparisons: no oracle.

        Raises:
            ClientDisabledError: the secret is right, but the client is disabled.
        """
        given = hash_client_secret(secret[:MAX_SECRET])
        row = None
        if storable_text(client_id):  # else no client has it, and PostgreSQL takes no NUL
            async with self._sessions() as session:
                row = (
                    await session.execute(
                        select(OAuthClient).where(OAuthClient.client_id == client_id)
                    )
                ).scalar_one_or_none()
        current = row.secret_hash if row is not None else None
        previous = row.previous_secret_hash if row is not None else None
        expires = row.previous_secret_expires_at if row is not None else None
        # Both comparisons always run, against a zero digest when there is nothing.
        zero = bytes(32)
        ok_current = hmac.compare_digest(given, current or zero) and current is not None
        ok_previous = hmac.compare_digest(given, previous or zero) and previous is not None
        if ok_previous and (expires is None or expires <= now()):
            ok_previous = False
        if row is None or not (ok_current or ok_previous) or len(secret) > MAX_SECRET:
            return None
        return _enabled(ClientInfo.of(row))

    async def authenticate_certificate(self, client_id: str, subject_dn: str) -> ClientInfo | None:
        """The client if it is registered for ``tls_client_auth`` with the subject ``subject_dn``.

        The names are compared as :func:`~sealbox.accounts.subject_dn.subject_dn_key`
        does: RDN by RDN, without regard to the spelling, case or spaces of a value.

        ``subject_dn`` must come from a certificate the TLS layer verified.

        Raises:
            ClientDisabledError: the subject is right, but the client is disabled.
        """
        client = await self.by_client_id(client_id)
        if client is None or client.subject_dn is None:
            return None
        try:
            # Compared as names, not strings: the same subject has many RFC 4514 spellings.
            registered = subject_dn_key(client.subject_dn)
            presented = subject_dn_key(subject_dn)
        except ValueError:  # a subject registered before sealbox checked them
            return None
        if not hmac.compare_digest(registered.encode(), presented.encode()):
            return None
        return _enabled(client)

    @staticmethod
    async def _by_name(session: AsyncSession, name: str) -> OAuthClient:
        if not storable_text(name):
            raise _not_found(name)
        row = (
            await session.execute(select(OAuthClient).where(OAuthClient.name == name))
        ).scalar_one_or_none()
        if row is None:
            raise _not_found(name)
        return row
