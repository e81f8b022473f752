"""Client administration outside the HTTP API: what ``sealbox clients …`` does.

The same store and rules as ``/clients`` (:mod:`sealbox.accounts.clients`), on the
service's database, migrated first.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TypeVar

from sealbox.accounts.audit import AuditLog
from sealbox.accounts.clients import ClientInfo, ClientStore, NewSecret
from sealbox.accounts.grants import revoke_client_tokens
from sealbox.accounts.store import Store
from sealbox.exceptions import StorageError, StoreUnavailableError
from sealbox.service.admin import check_service_reached, open_database_file, open_revocations
from sealbox.service.db import make_engine, migrate, sessionmaker
from sealbox.service.settings import ServiceSettings
from sealbox.tls.certinfo import CertificateInfo, load_certificates

__all__ = [
    "certificate_subject",
    "create_client",
    "delete_client",
    "find_client",
    "list_clients",
    "rotate_client_secret",
]

T = TypeVar("T")


def _run(
    settings: ServiceSettings,
    action: Callable[[ClientStore], Awaitable[T]],
    *,
    create: bool = False,
    audit: str | None = None,
) -> T:
    """Run ``action`` on the clients of ``settings``' database; only ``create`` makes the
    data folder (:func:`~sealbox.service.admin.open_database_file`). ``audit``: the event
    to write to the audit log once it succeeded, naming the client it returned (as the
    ``/clients`` routes write it; the detail says ``command line``, never a secret)."""
    open_database_file(settings, create=create)

    async def _go() -> T:
        # Opened first, as `sealbox users` does: a change whose record cannot be written
        # is not made (fail-closed).
        log = None
        if audit is not None:
            settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            log = AuditLog(settings.resolved_audit_log())
        engine = make_engine(settings.resolved_database_url())
        try:
            await migrate(engine)
            result = await action(ClientStore(sessionmaker(engine)))
            if log is not None and audit is not None:
                client = result.client if isinstance(result, NewSecret) else result
                assert isinstance(client, ClientInfo)
                detail = f"{client.name} ({client.client_id}); command line"
                log.record(audit, outcome="success", detail=detail)
            return result
        finally:
            await engine.dispose()
            if log is not None:
                log.close()

    return asyncio.run(_go())


def certificate_subject(path: Path) -> str:
    """The subject (RFC 4514) of the first certificate in a PEM file.

    Raises:
        TLSConfigError: the file is missing, unreadable or holds no certificate.
    """
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


def rotate_client_secret(settings: ServiceSettings, name: str, overlap: int = 0) -> NewSecret:
    """A new secret for the client; the current one keeps working ``overlap`` seconds.

    Raises:
        ClientNotFoundError: no such client.
    """
    return _run(settings, lambda store: store.rotate_secret(name, overlap), audit="client_rotate")


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
        client = await store.get(name)
        check_service_reached(settings)
        accounts = Store(store.sessions, refresh_ttl=settings.refresh_token_ttl)
        revocations, after = open_revocations(settings, accounts)
        try:
            await revoke_client_tokens(
                revocations,
                client.client_id,
                settings.access_token_ttl,
                sessions=store.sessions,
            )
        except StoreUnavailableError as exc:
            raise StorageError(
                f"the access tokens of client {name!r} cannot be refused: Redis did not "
                f"answer ({exc.cause}); the client is kept",
                hint="the client still works; delete it again once Redis answers",
                code="revocation_unavailable",
                facts={"name": name},
            ) from None
        finally:
            await revocations.close()
        if after is not None:
            after()
        # The client revoked, not one made anew under its name in the meantime.
        return await store.delete(name, client_id=client.client_id)

    return _run(settings, revoke_then_delete, audit="client_delete")
