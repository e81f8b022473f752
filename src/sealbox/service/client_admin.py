"""Client administration outside the HTTP API: what ``sealbox clients …`` does.

The same store and rules as ``/clients`` (:mod:`sealbox.accounts.clients`), on the
service's database, migrated first.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TypeVar

from sealbox.accounts.audit import AuditLog, AuditUnavailableError
from sealbox.accounts.clients import ClientInfo, ClientStore, EndTokens, NewSecret
from sealbox.accounts.revocation import Revocations
from sealbox.accounts.store import Store
from sealbox.exceptions import StorageError, StoreUnavailableError
from sealbox.service.admin import (
    ChangeNotAuditedError,
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

# What each audited change did, for the message when its record cannot be written.
_DONE = {
    "client_rotate": "rotated the secret of client",
    "client_delete": "deleted client",
    "client_grant": "granted scopes to client",
    "client_revoke": "took scopes back from client",
    "client_disable": "disabled client",
    "client_enable": "enabled client",
}
# The changes of scopes, whose records say what the client holds after them.
_SCOPE_EVENTS = frozenset({"client_grant", "client_revoke"})


def _run(
    settings: ServiceSettings,
    action: Callable[[ClientStore], Awaitable[T]],
    *,
    create: bool = False,
    audit: str | None = None,
    noted: str | None = None,
) -> T:
    """Run ``action`` on the clients of ``settings``' database; only ``create`` makes the
    data folder (:func:`~sealbox.service.admin.open_database_file`). ``audit``: the event
    to write to the audit log once it succeeded, naming the client it returned (as the
    ``/clients`` routes write it; the detail says ``command line``, and ``noted``
    when given, never a secret).

    When that record cannot be written, a new client is deleted again (``audit_unavailable``:
    nothing is made unrecorded); any other change stands and :class:`ChangeNotAuditedError`
    says what it was, holding the result (a new secret to show).
    """
    open_database_file(settings, create=create)

    async def _go() -> T:
        # Opened first, as `sealbox users` does: a change whose record cannot be written
        # is not made (fail-closed).
        log = None
        if audit is not None:
            make_folder(settings.data_dir)
            log = AuditLog(settings.resolved_audit_log())
        engine = make_engine(settings.resolved_database_url())
        try:
            await migrate(engine)
            store = ClientStore(sessionmaker(engine))
            try:
                result = await action(store)
            except TokensPartlyEndedError as exc:
                # The change stands: recorded as made, with what it left undone.
                if log is not None and audit is not None:
                    made = _client_of(exc.result)
                    done = f"{made.name} ({made.client_id}); command line; tokens ended in part"
                    with contextlib.suppress(AuditUnavailableError):  # logged on stderr
                        log.record(audit, outcome="success", detail=done)
                raise
            if log is not None and audit is not None:
                client = _client_of(result)
                detail = f"{client.name} ({client.client_id}); command line"
                if audit in _SCOPE_EVENTS:
                    detail += f"; holds {' '.join(client.scopes) or 'no scope'}"
                if noted is not None:
                    detail += f"; {noted}"
                try:
                    log.record(audit, outcome="success", detail=detail)
                except AuditUnavailableError as exc:
                    await _unaudited(store, audit, client, exc, result)
            return result
        finally:
            await engine.dispose()
            if log is not None:
                log.close()

    return asyncio.run(_go())


def _client_of(result: object) -> ClientInfo:
    client = result.client if isinstance(result, NewSecret) else result
    assert isinstance(client, ClientInfo)
    return client


async def _unaudited(
    store: ClientStore,
    event: str,
    client: ClientInfo,
    cause: AuditUnavailableError,
    result: object,
) -> None:
    """Undo a creation whose record was lost, or say what was changed; always raises."""
    if event == "client_create":
        try:
            await store.delete(client.name, client_id=client.client_id)
        except Exception:  # noqa: BLE001 - whatever stopped the undo, the client stands
            # It stands: its secret must reach the caller, once.
            done = f"created client {client.name!r}"
            raise ChangeNotAuditedError(done, cause, result) from None
        raise not_made(f"client {client.name!r}", cause) from None
    raise ChangeNotAuditedError(f"{_DONE[event]} {client.name!r}", cause, result) from None


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
        StorageError: code ``audit_unavailable``, the audit record could not be written:
            the client is deleted again.
        ChangeNotAuditedError: neither could the client be deleted again: it stands, and
            ``result`` holds it with its secret.
    """
    subject = certificate_subject(certificate) if certificate is not None else None
    return _run(
        settings,
        lambda store: store.create(name, scopes, subject_dn=subject, with_secret=with_secret),
        create=True,
        audit="client_create",
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
        ChangeNotAuditedError: the scopes are granted, but the audit record could not be
            written.
    """
    return _run(settings, lambda store: store.grant(name, scopes), audit="client_grant")


def revoke_client_scopes(settings: ServiceSettings, name: str, scopes: Iterable[str]) -> ClientInfo:
    """Take scopes back from the client (:meth:`ClientStore.revoke`).

    Raises:
        ClientNotFoundError: no such client.
        ConfigError: code ``bad_scope``.
        ChangeNotAuditedError: the scopes are taken back, but the audit record could not
            be written.
    """
    return _run(settings, lambda store: store.revoke(name, scopes), audit="client_revoke")


def rotate_client_secret(
    settings: ServiceSettings, name: str, overlap: int = 0, *, revoke_tokens: bool = False
) -> NewSecret:
    """A new secret for the client; the current one keeps working ``overlap`` seconds.

    With ``revoke_tokens``, the access tokens issued before are refused at once, as
    :func:`disable_client` refuses them (the new secret's tokens pass).

    Raises:
        ClientNotFoundError: no such client.
        ChangeNotAuditedError: the secret is rotated, but its audit record could not be
            written; ``result`` holds the new secret, to be shown all the same.
        StorageError: code ``tokens_not_ended`` (with ``revoke_tokens``), Redis did not
            answer: nothing is changed.
        TokensPartlyEndedError: (with ``revoke_tokens``) Redis stopped answering once the
            secret was rotated: the new secret stands, in ``result``, to be shown all the
            same; the logins through the client that raced the rotation may live on.
        ConfigError: code ``data_dir_in_use`` (with ``revoke_tokens``), as for
            :func:`disable_client`.
    """
    if not revoke_tokens:
        return _run(
            settings, lambda store: store.rotate_secret(name, overlap), audit="client_rotate"
        )

    async def rotate(store: ClientStore) -> NewSecret:
        return await _ending_tokens(
            settings, store, name, lambda end: store.rotate_secret(name, overlap, end=end)
        )

    return _run(settings, rotate, audit="client_rotate", noted="tokens ended")


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
        ChangeNotAuditedError: the client is disabled, but the audit record could not
            be written.
    """

    async def disable(store: ClientStore) -> ClientInfo:
        return await _ending_tokens(settings, store, name, lambda end: store.disable(name, end))

    return _run(settings, disable, audit="client_disable", noted="tokens ended")


def enable_client(settings: ServiceSettings, name: str) -> ClientInfo:
    """Let a disabled client authenticate again (the tokens ended stay refused).

    Raises:
        ClientNotFoundError: no such client.
        ChangeNotAuditedError: the client is enabled, but the audit record could not be
            written.
    """
    return _run(settings, lambda store: store.enable(name), audit="client_enable")


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
        raise TokensPartlyEndedError(str(partly), partly.facts, result)
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

    The refusal is recorded first (in Redis, or in the database and the data folder's
    changes file, as ``sealbox users disable`` does): when it cannot be, nothing is
    deleted and the client keeps working, so that no client is gone while its live tokens
    still pass. Should the deletion then fail, the client stays, and the tokens it gets
    are refused until the revocation lapses (an access-token lifetime later, when the
    last token it held has expired): delete it again.

    Raises:
        ClientNotFoundError: no such client.
        StorageError: code ``revocation_unavailable``, Redis did not answer; the client
            is kept.
        ConfigError: code ``data_dir_in_use``, a service with Redis serves the data
            folder and the settings have none (:func:`check_service_reached`); the
            client is kept.
    """

    async def revoke_then_delete(store: ClientStore) -> ClientInfo:
        from sealbox.accounts.grants import revoke_client_tokens  # see _ending_tokens

        client = await store.get(name)
        check_service_reached(settings)
        accounts = Store(store.sessions, refresh_ttl=settings.refresh_token_ttl)
        revocations, after = open_revocations(settings, accounts)
        try:
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
                after()
            # The client revoked, not one made anew under its name in the meantime.
            deleted = await store.delete(name, client_id=client.client_id)
            try:
                await _sweep_deleted(revocations, store, deleted, settings)
            except StoreUnavailableError as exc:
                if exc.store != "Redis":
                    raise
                raise StorageError(
                    f"deleted client {name!r}, but Redis did not answer ({exc.cause}): the "
                    "access tokens of a password login through it that raced the deletion "
                    "may pass until they expire",
                    hint="check that the Redis server runs and answers",
                    code="store_unavailable",
                    facts={"name": name},
                ) from None
            if after is not None:
                after()
        finally:
            await revocations.close()
        return deleted

    return _run(settings, revoke_then_delete, audit="client_delete")


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
