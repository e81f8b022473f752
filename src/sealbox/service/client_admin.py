"""Client administration outside the HTTP API: what ``sealbox clients …`` does.

The same store and rules as ``/clients`` (:mod:`sealbox.accounts.clients`), on the
service's database, migrated first. As over HTTP, creating a client, changing its scopes,
enabling it and rotating its secret without ending its tokens commit with their audit
record: a record the log refuses changes nothing (code ``audit_unavailable``). So do
disabling, deleting and a rotation that ends the tokens, whose transaction writes the
record, then refuses the tokens on the revocation lists, then commits: a record refused
ends no token.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import TypeVar

from sealbox.accounts.audit import AuditLog, AuditUnavailableError, ChangeRecord
from sealbox.accounts.clients import BeforeCommit, ClientInfo, ClientStore, EndTokens, NewSecret
from sealbox.accounts.revocation import Revocations, after_commit
from sealbox.accounts.store import Store
from sealbox.exceptions import StorageError, StoreUnavailableError
from sealbox.service.admin import (
    check_service_reached,
    not_made,
    open_database_file,
    open_revocations,
)
from sealbox.service.db import make_engine, migrate, sessionmaker
from sealbox.service.settings import ServiceSettings
from sealbox.storage import make_folder

__all__ = [
    "certificate_subject",
    "create_client",
    "delete_client",
    "disable_client",
    "enable_client",
    "find_client",
    "grant_client_scopes",
    "list_clients",
    "revoke_client_scopes",
    "rotate_client_secret",
]

T = TypeVar("T")

# What each change recorded in its transaction would have done, for the message when its
# record is refused (and the change with it).
_NOT_MADE = {
    "client_create": "create",
    "client_rotate": "rotate the secret of",
    "client_grant": "grant scopes to",
    "client_revoke": "take scopes back from",
    "client_enable": "enable",
    "client_disable": "disable",
    "client_delete": "delete",
}
# The changes of scopes, whose records say what the client holds after them.
_SCOPE_EVENTS = frozenset({"client_grant", "client_revoke"})


def _detail(event: str, client: ClientInfo, noted: str | None = None) -> str:
    """A record's detail: the client by name and id, ``command line`` (never a secret)."""
    detail = f"{client.name} ({client.client_id}); command line"
    if event in _SCOPE_EVENTS:
        detail += f"; holds {' '.join(client.scopes) or 'no scope'}"
    if noted is not None:
        detail += f"; {noted}"
    return detail


@contextlib.asynccontextmanager
async def _opened(
    settings: ServiceSettings, audit: bool
) -> AsyncIterator[tuple[ClientStore, AuditLog | None]]:
    """The clients of ``settings``' database, migrated, and its audit log when ``audit``."""
    # The log is opened first, as `sealbox users` does: a change whose record cannot be
    # written is not made (fail-closed).
    log = None
    if audit:
        make_folder(settings.data_dir)
        log = AuditLog(settings.resolved_audit_log())
    try:
        engine = make_engine(settings.resolved_database_url())
        try:
            await migrate(engine)
            yield ClientStore(sessionmaker(engine)), log
        finally:
            await engine.dispose()
    finally:
        if log is not None:
            log.close()


def _recorded(
    settings: ServiceSettings,
    event: str,
    name: str,
    change: Callable[[ClientStore, BeforeCommit], Awaitable[T]],
    *,
    create: bool = False,
    noted: str | None = None,
) -> T:
    """Make ``change``, given the writer of its ``event`` record, which its transaction
    calls as its last step (as the ``/clients`` routes do; the detail says ``command
    line``): a record the log refuses rolls the change back.

    Raises:
        StorageError: code ``audit_unavailable``, the record could not be written:
            nothing is changed (``did not grant scopes to client 'billing': …``).
    """
    open_database_file(settings, create=create)

    async def _go() -> T:
        async with _opened(settings, audit=True) as (store, log):
            assert log is not None
            record = ChangeRecord(log, event, user=None, address=None)
            try:
                with record:
                    try:
                        return await change(
                            store, lambda c: record.write(detail=_detail(event, c, noted))
                        )
                    except _Committed as exc:
                        done = exc  # the change and its record stand
            except AuditUnavailableError as exc:
                # Refused in the change's transaction: nothing was changed.
                raise not_made(f"client {name!r}", exc, _NOT_MADE[event]) from None
            # What the sweep after the commit left undone, in a second record.
            partly = _detail(event, done.client, "tokens ended in part")
            with contextlib.suppress(AuditUnavailableError):  # logged on stderr
                log.record(event, outcome="incomplete", detail=partly)
            raise done.error

    return asyncio.run(_go())


class _Committed(Exception):  # noqa: N818 - a signal, not an error of its own
    """``error``, raised once the change of ``client`` was committed (with its record)."""

    def __init__(self, error: Exception, client: ClientInfo) -> None:
        super().__init__(str(error))
        self.error = error
        self.client = client


def _run(settings: ServiceSettings, action: Callable[[ClientStore], Awaitable[T]]) -> T:
    """Run ``action`` (which changes nothing) on the clients of ``settings``' data folder,
    which must hold its database (:func:`~sealbox.service.admin.open_database_file`)."""
    open_database_file(settings, create=False)

    async def _go() -> T:
        async with _opened(settings, audit=False) as (store, _log):
            return await action(store)

    return asyncio.run(_go())


def _client_of(result: object) -> ClientInfo:
    client = result.client if isinstance(result, NewSecret) else result
    assert isinstance(client, ClientInfo)
    return client


def certificate_subject(path: Path) -> str:
    """The subject (RFC 4514) of the first certificate in a PEM file.

    Raises:
        TLSConfigError: the file is missing, unreadable or holds no certificate.
    """
    # Imported here, for a client given a certificate: the x509 code is no part of the
    # other commands.
    from sealbox.tls.certinfo import CertificateInfo, load_certificates

    return CertificateInfo.from_certificate(load_certificates(path)[0]).subject


def create_client(
    settings: ServiceSettings,
    name: str,
    scopes: Iterable[str],
    *,
    certificate: Path | None = None,
    with_secret: bool = True,
) -> NewSecret:
    """Register a client; its secret (if made) is in the answer, and nowhere else.

    Args:
        settings: the service's settings (its data folder or database).
        name: the client's name.
        scopes: what it may be granted.
        certificate: a PEM certificate of the client, for ``tls_client_auth`` by its
            subject.
        with_secret: make a secret.

    Raises:
        ConfigError: a bad name or scope, no credential, or the name is taken
            (code ``client_exists``).
        TLSConfigError: the certificate file is unusable.
        StorageError: code ``audit_unavailable``, the audit record (written in the
            creation's transaction) could not be: no client is made, its name stays free.
    """
    subject = certificate_subject(certificate) if certificate is not None else None
    return _recorded(
        settings,
        "client_create",
        name,
        lambda store, record: store.create(
            name, scopes, subject_dn=subject, with_secret=with_secret, before_commit=record
        ),
        create=True,
    )


def list_clients(settings: ServiceSettings) -> list[ClientInfo]:
    """Every client, by name (never a secret).

    Raises:
        ConfigError: ``service_not_provisioned``, the data folder holds no database (as
            every function here but :func:`create_client`, which makes it).
    """
    return _run(settings, lambda store: store.list())


def find_client(settings: ServiceSettings, name: str) -> ClientInfo:
    """The client named ``name`` (never its secret).

    Raises:
        ClientNotFoundError: no such client.
    """
    return _run(settings, lambda store: store.get(name))


def grant_client_scopes(settings: ServiceSettings, name: str, scopes: Iterable[str]) -> ClientInfo:
    """Add scopes to what the client may be granted; its next token may carry them.

    Raises:
        ClientNotFoundError: no such client.
        ConfigError: code ``bad_scope``.
        StorageError: code ``audit_unavailable``, the audit record (written in the
            change's transaction) could not be: no scope is granted.
    """
    return _recorded(
        settings,
        "client_grant",
        name,
        lambda store, record: store.grant(name, scopes, before_commit=record),
    )


def revoke_client_scopes(settings: ServiceSettings, name: str, scopes: Iterable[str]) -> ClientInfo:
    """Take scopes back from the client (:meth:`ClientStore.revoke`).

    Raises:
        ClientNotFoundError: no such client.
        ConfigError: code ``bad_scope``.
        StorageError: code ``audit_unavailable``, the audit record (written in the
            change's transaction) could not be: no scope is taken back.
    """
    return _recorded(
        settings,
        "client_revoke",
        name,
        lambda store, record: store.revoke(name, scopes, before_commit=record),
    )


def rotate_client_secret(
    settings: ServiceSettings, name: str, overlap: int = 0, *, revoke_tokens: bool = False
) -> NewSecret:
    """A new secret for the client; the current one keeps working ``overlap`` seconds.

    With ``revoke_tokens``, the access tokens issued before are refused at once, as
    :func:`disable_client` refuses them (the new secret's tokens pass).

    Raises:
        ClientNotFoundError: no such client.
        StorageError: code ``audit_unavailable`` (without ``revoke_tokens``), the audit
            record (written in the rotation's transaction) could not be: the secret is
            not rotated.
        StorageError: code ``audit_unavailable`` (with ``revoke_tokens`` too: its record
            is written before the tokens are ended), nothing is changed, no token ended.
        StorageError: code ``tokens_not_ended`` (with ``revoke_tokens``), Redis did not
            answer: nothing is changed.
        TokensPartlyEndedError: (with ``revoke_tokens``) Redis stopped answering once the
            secret was rotated: the new secret stands, in ``result``, to be shown all the
            same; the logins through the client that raced the rotation may live on.
        ConfigError: code ``data_dir_in_use`` (with ``revoke_tokens``), as for
            :func:`disable_client`.
    """
    if not revoke_tokens:
        return _recorded(
            settings,
            "client_rotate",
            name,
            lambda store, record: store.rotate_secret(name, overlap, before_commit=record),
        )

    async def rotate(store: ClientStore, record: BeforeCommit) -> NewSecret:
        return await _ending_tokens(
            settings,
            store,
            name,
            lambda end: store.rotate_secret(name, overlap, end=end, before_commit=record),
        )

    return _recorded(settings, "client_rotate", name, rotate, noted="tokens ended")


def disable_client(settings: ServiceSettings, name: str) -> ClientInfo:
    """Disable the client: it no longer authenticates, and the access tokens it holds are
    refused at once (:meth:`ClientStore.disable`).

    The refusal is recorded first (in Redis, or in the database and the data folder's
    changes file, as ``sealbox users disable`` does): when it cannot be, nothing is
    changed.

    Raises:
        ClientNotFoundError: no such client.
        StorageError: code ``tokens_not_ended``, Redis did not answer; nothing is
            changed.
        ConfigError: code ``data_dir_in_use``, a service with Redis serves the data
            folder and the settings have none (:func:`check_service_reached`).
        StorageError: code ``audit_unavailable``, the audit record (written in the
            change's transaction, before the tokens are ended) could not be: the client
            stays enabled and its tokens pass.
    """

    async def disable(store: ClientStore, record: BeforeCommit) -> ClientInfo:
        return await _ending_tokens(
            settings, store, name, lambda end: store.disable(name, end, before_commit=record)
        )

    return _recorded(settings, "client_disable", name, disable, noted="tokens ended")


def enable_client(settings: ServiceSettings, name: str) -> ClientInfo:
    """Let a disabled client authenticate again (the tokens ended stay refused).

    Raises:
        ClientNotFoundError: no such client.
        StorageError: code ``audit_unavailable``, the audit record (written in the
            change's transaction) could not be: the client stays disabled.
    """
    return _recorded(
        settings,
        "client_enable",
        name,
        lambda store, record: store.enable(name, before_commit=record),
    )


async def _ending_tokens(
    settings: ServiceSettings,
    store: ClientStore,
    name: str,
    change: Callable[[EndTokens], Awaitable[T]],
) -> T:
    """Make ``change``, which ends the client's tokens with the ``end`` it is given, on the
    revocation lists a running service reads (:func:`open_revocations`)."""
    # The grants (the client credentials grant, its tokens ended here) are imported by
    # the changes that end tokens: listing or showing clients needs none of them.
    from sealbox.accounts.grants import revoke_client_tokens

    await store.get(name)  # an unknown client is said first
    check_service_reached(settings)
    accounts = Store(store.sessions, refresh_ttl=settings.refresh_token_ttl)
    revocations, after = open_revocations(settings, accounts)

    missed: StoreUnavailableError | None = None

    async def end(client: ClientInfo) -> None:
        nonlocal missed
        # The sessions of the password logins it authenticated too: a client disabled or
        # whose tokens are ended holds none of its users' tokens either.
        try:
            await revoke_client_tokens(
                revocations, client, settings.access_token_ttl, sessions=store.sessions
            )
        except StoreUnavailableError as exc:
            # Called again once the change is committed (sweep_through set), for the
            # logins that raced it: the change stands, and what it made (a new secret)
            # is returned with the error, never lost with it.
            if client.sweep_through is None or exc.store != "Redis":
                raise
            missed = exc
        else:
            if after is not None and client.sweep_through is None:
                after()  # before the change commits: the service reloads its lists

    try:
        result = await change(end)
    except StoreUnavailableError as exc:
        if exc.store != "Redis":
            raise
        raise _redis_unavailable(name, exc, "nothing is changed", "tokens_not_ended") from None
    finally:
        await revocations.close()
    if after is not None:
        after()
    if missed is not None:
        kept = (
            "the change is made, but the sessions of the password logins through it that "
            "raced the change may live on"
        )
        partly = _redis_unavailable(name, missed, kept, TokensPartlyEndedError.code)
        error = TokensPartlyEndedError(str(partly), partly.facts, result)
        raise _Committed(error, _client_of(result))
    return result


class TokensPartlyEndedError(StorageError):
    """A client's tokens were ended and the change committed (a rotation's new secret
    stands), but the sessions of the password logins that raced it could not be ended:
    Redis stopped answering in between. ``result`` is what the change made (a new
    secret, to be shown all the same); ending those sessions takes the change made again.
    """

    code = "tokens_partly_ended"

    def __init__(self, message: str, facts: dict[str, str], result: object) -> None:
        super().__init__(
            message,
            hint="the change stands; once Redis answers, make it again to end those sessions",
            facts=facts,
        )
        self.result = result


def _redis_unavailable(name: str, exc: StoreUnavailableError, kept: str, code: str) -> StorageError:
    # Two codes: the command line's hint for revocation_unavailable says to delete again.
    return StorageError(
        f"the access tokens of client {name!r} cannot be refused: Redis did not "
        f"answer ({exc.cause}); {kept}",
        hint="the client still works; try again once Redis answers",
        code=code,
        facts={"name": name},
    )


def delete_client(settings: ServiceSettings, name: str) -> ClientInfo:
    """Refuse a client's access tokens (and end the refresh families of the password logins it
    made, with theirs), then remove it.

    One transaction writes the audit record, then refuses the tokens (in Redis, or in the
    database and the data folder's changes file, as ``sealbox users disable`` does), then
    deletes the client: a record refused or a refusal that cannot be stored deletes
    nothing and the client keeps working, so that no client is gone while its live tokens
    still pass. Should the deletion then fail, the client stays, and the tokens it gets
    are refused until the revocation lapses (an access-token lifetime later, when the
    last token it held has expired): delete it again.

    Raises:
        ClientNotFoundError: no such client.
        StorageError: code ``audit_unavailable``, the audit record could not be written:
            the client is kept, its tokens pass.
        StorageError: code ``revocation_unavailable``, Redis did not answer; the client
            is kept.
        ConfigError: code ``data_dir_in_use``, a service with Redis serves the data
            folder and the settings have none (:func:`check_service_reached`); the
            client is kept.
    """

    async def revoke_then_delete(store: ClientStore, record: BeforeCommit) -> ClientInfo:
        from sealbox.accounts.grants import revoke_client_tokens  # see _ending_tokens

        await store.get(name)  # an unknown client is said first
        check_service_reached(settings)
        accounts = Store(store.sessions, refresh_ttl=settings.refresh_token_ttl)
        revocations, after = open_revocations(settings, accounts)

        async def end(client: ClientInfo) -> None:
            try:
                await revoke_client_tokens(
                    revocations, client, settings.access_token_ttl, sessions=store.sessions
                )
            except StoreUnavailableError as exc:
                if exc.store != "Redis":
                    raise
                raise _redis_unavailable(
                    name, exc, "the client is kept", "revocation_unavailable"
                ) from None
            if after is not None:
                after()  # before the deletion commits: the service reloads its lists

        try:
            # Recorded, its tokens refused, then deleted, in one transaction.
            deleted = await store.delete(name, end=end, before_commit=record)
            if after is not None:
                after()
            try:
                with after_commit():
                    await _sweep_deleted(revocations, store, deleted, settings)
            except StoreUnavailableError as exc:
                if exc.store != "Redis":
                    raise
                error = StorageError(
                    f"deleted client {name!r}, but Redis did not answer ({exc.cause}): the "
                    "access tokens of a password login through it that raced the deletion "
                    "may pass until they expire",
                    hint="check that the Redis server runs and answers",
                    code="store_unavailable",
                    facts={"name": name},
                )
                raise _Committed(error, deleted) from None
            if after is not None:
                after()
        finally:
            await revocations.close()
        return deleted

    return _recorded(settings, "client_delete", name, revoke_then_delete)


async def _sweep_deleted(
    revocations: Revocations, store: ClientStore, deleted: ClientInfo, settings: ServiceSettings
) -> None:
    """End what the revocation before the deletion could not see: the families of the
    password logins through the client stored meanwhile, and its tokens of a version
    raised meanwhile (its tokens ended by a racing change).

    A login stores its family while holding the client's row, at the version it
    authenticated at (:meth:`~sealbox.accounts.store.Store.issue_refresh`): the deletion
    waited for it, so its family is read here; a later one finds no row and stores
    nothing. Unswept, its refresh tokens were of no use (the client no longer
    authenticates), but its access tokens passed until they expired."""
    from sealbox.accounts.grants import revoke_client_tokens  # see _ending_tokens

    await revoke_client_tokens(
        revocations, deleted, settings.access_token_ttl, sessions=store.sessions
    )
