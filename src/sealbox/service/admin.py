"""Account administration outside the HTTP API: what ``sealbox users …`` does.

``create_user`` follows the rules of registration through the API (RFC 8265 usernames,
look-alikes refused, the password policy); :func:`administer_accounts` runs one
:class:`~sealbox.accounts.admin.AccountAdmin` operation (list, grant, disable, import…)
on the settings' database, migrated first. Both act on a service running on the same
database: with Redis configured, ended sessions are recorded there for every worker;
without, the data folder's changes file tells the (single-worker) service to reload its
revocation lists before its next request.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, NoReturn, TypeVar

from sqlalchemy import delete, select

from sealbox.accounts import DEFAULT_SCOPES
from sealbox.accounts.admin import AccountAdmin, AccountInfo
from sealbox.accounts.audit import AuditLog, AuditUnavailableError, ChangeRecord
from sealbox.accounts.models import RefreshToken, User
from sealbox.accounts.revocation import (
    LocalRevocations,
    RedisRevocations,
    Revocations,
    announce_change,
)
from sealbox.accounts.scopes import check_scopes
from sealbox.accounts.store import Store, UsernameTakenError
from sealbox.accounts.user_import import ImportReport
from sealbox.accounts.usernames import canonical_username
from sealbox.exceptions import ConfigError, StorageError, StoreUnavailableError
from sealbox.passwords import MAX_PASSWORD_LENGTH, PasswordHasher
from sealbox.service.admin_errors import ChangeNotAuditedError, check_provisioned, make_writable
from sealbox.service.db import make_engine, migrate, sessionmaker
from sealbox.service.folder_modes import check_modes
from sealbox.service.preflight import check_database
from sealbox.service.provision import DataDir
from sealbox.service.settings import ServiceSettings
from sealbox.storage import make_folder

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = [
    "ChangeNotAuditedError",
    "administer_accounts",
    "audited_accounts",
    "check_provisioned",
    "check_service_reached",
    "create_user",
    "make_database_file",
    "open_database_file",
    "open_revocations",
    "password_policy",
    "record_import",
    "reset_totp",
]

T = TypeVar("T")


def not_made(
    what: str, cause: AuditUnavailableError, verb: str = "create", also: str = ""
) -> StorageError:
    """The error of a creation undone because its audit record could not be written."""
    problem = cause.facts.get("problem", "")
    return StorageError(
        f"did not {verb} {what}: the audit log cannot be written ({problem}){also}",
        hint=f"make the audit log writable again ({make_writable(problem)}), then retry",
        code="audit_unavailable",
        facts={"problem": problem},
    )


# What each audited account change would have done, for the message when its record is
# refused (and the change with it).
_UNDONE = {
    "admin.disable": "disable",
    "admin.enable": "enable",
    "admin.reset_password": "reset the password of",
    "admin.delete": "delete",
    "admin.reset_totp": "remove the second factor and end the sessions of",
    "admin.grant": "change the scopes of",
    "admin.revoke": "change the scopes of",
}

#: The ``detail`` of the records of ``sealbox users …``.
_CLI = "command line"


def open_revocations(
    settings: ServiceSettings, store: Store
) -> tuple[Revocations, Callable[[], None] | None]:
    """The revocation lists a running service reads, and what to call after changing them.

    With Redis, the lists are there (every worker reads them); without, the change is
    recorded in the database and the data folder's changes file is rewritten afterwards,
    so that the one worker reloads its lists. The file is rewritten with Redis too: the
    service serving the folder may be one without Redis, which reads only the database.
    """
    changes = DataDir(settings.data_dir).revocations_changed

    def announce() -> None:
        if changes.parent.is_dir():  # a database of its own may come without a folder
            announce_change(changes)

    if settings.redis_url is not None:
        redis = RedisRevocations(
            store, settings.redis_url.expose_secret(), prefix=settings.redis_prefix
        )
        return redis, announce
    return LocalRevocations(store), announce


def check_service_reached(settings: ServiceSettings) -> None:
    """Refuse to end sessions that a service serving the data folder would not see ended.

    A service with Redis keeps its revocation lists there alone: a change recorded only
    in the database and the changes file (no ``SEALBOX_REDIS_URL`` here) would reach it at
    its next start, and the account's live access tokens would pass until then. So would
    a change told to another Redis database or key prefix than the service's.

    Raises:
        ConfigError: code ``data_dir_in_use``, before anything is changed.
    """
    serving = DataDir(settings.data_dir).serving_redis()
    folder = settings.data_dir
    if serving and settings.redis_url is not None and serving != settings.redis_keys_id():
        raise ConfigError(
            f"a sealbox service serves {folder} with another Redis database or key prefix "
            "than this command's: the service would not refuse the live access tokens",
            hint="give the command the service's SEALBOX_REDIS_URL and SEALBOX_REDIS_PREFIX",
            code="data_dir_in_use",
            facts={"folder": str(folder)},
        )
    if settings.redis_url is None and serving is not None:
        raise ConfigError(
            f"a sealbox service serves {folder} with Redis, and this command has no "
            "SEALBOX_REDIS_URL: the service would not refuse the live access tokens",
            hint="give the command the service's SEALBOX_REDIS_URL and SEALBOX_REDIS_PREFIX",
            code="data_dir_in_use",
            facts={"folder": str(folder)},
        )


def password_policy(password: str, username: str, max_length: int = MAX_PASSWORD_LENGTH) -> None:
    """The service's policy for a new password: 8 characters to ``max_length`` (the
    hasher's :attr:`~sealbox.passwords.PasswordHasher.max_length`, 1024 by default), not
    the username.

    Raises:
        ConfigError: code ``weak_password``.
    """
    # Imported here, where a password is set: sign-in's module (and the grants and JWT
    # code it loads) is no part of a command that only reads or changes accounts.
    from sealbox.accounts.sessions import WeakPasswordError, check_new_password

    try:
        check_new_password(password, username, max_length)
    except WeakPasswordError as exc:
        raise ConfigError(str(exc), code="weak_password") from None


def create_user(
    settings: ServiceSettings,
    name: str,
    password: Callable[[str], str],
    scopes: Iterable[str] = (),
) -> tuple[str, list[str]]:
    """Create an account (administrators included); return its name and granted scopes.

    Args:
        settings: the service's settings (its data folder or database).
        name: the username, as typed: it is stored in its RFC 8265 canonical form.
        password: called with the canonical name, returns the password (a prompt).
        scopes: scopes to grant besides the default ones.

    Raises:
        SealboxError: the name breaks the username rules (the message names the
            character).
        ConfigError: the password breaks the policy (code ``weak_password``), or the
            name, or one that looks like it, is taken (code ``username_taken``).
        StorageError: the audit log cannot be opened, or its record cannot be written
            (code ``audit_unavailable``; the account is deleted again): nothing is
            created; the account is audited as ``admin.create``.
        ChangeNotAuditedError: the record could not be written, nor the account deleted
            again: it stands.
    """
    name = canonical_username(name)
    # The scopes as `users grant` takes them: a scope with a space would be two in a
    # token's `scope` claim.
    extra = check_scopes(scopes) if scopes else []
    granted = sorted({*DEFAULT_SCOPES, *extra})
    secret: str | None = None
    if settings.database_url is None and not (settings.data_dir / "sealbox.db").exists():
        # No database yet, so no name is taken: the password first, so that a refused or
        # missing one (no stdin, Ctrl-C at the prompt) leaves no new database behind.
        check_database(settings)
        check_modes(settings)
        secret = password(name)
        password_policy(secret, name)
    with asyncio.Runner() as runner:
        # One engine, migrated once, for the check before the prompt and the creation.
        engine = runner.run(_migrated_engine(settings))
        log = None
        try:
            # Opened before the account is made, as for every other change: an account
            # (an administrator, say) whose record cannot be written is not created.
            log = AuditLog(settings.resolved_audit_log())
            store = Store(sessionmaker(engine), refresh_ttl=settings.refresh_token_ttl)
            # Said before the password is asked for (twice, at a prompt) and hashed; the
            # check in the transaction of create_user still decides between two creators.
            if runner.run(store.name_is_taken(name)):
                raise _username_taken(name)
            if secret is None:
                secret = password(name)
                password_policy(secret, name)
            password_hash = PasswordHasher(settings.password_profile).hash(secret)
            try:
                runner.run(store.create_user(name, password_hash, granted))
            except UsernameTakenError:
                raise _username_taken(name) from None
            detail = f"command line; scopes {' '.join(granted)}"
            try:
                log.record("admin.create", outcome="success", user=name, detail=detail)
            except AuditUnavailableError as exc:
                # Undone: an account (an administrator, say) is never made unrecorded.
                try:
                    runner.run(_undo_creation(store, name))
                except Exception:  # noqa: BLE001 - whatever stopped the undo, the account stands
                    raise ChangeNotAuditedError(f"created the account {name!r}", exc) from None
                raise not_made(f"the account {name!r}", exc) from None
        finally:
            runner.run(engine.dispose())
            if log is not None:
                log.close()
    return name, granted


async def _undo_creation(store: Store, *names: str) -> None:
    async with store.sessions.begin() as session:
        found = select(User.id).where(User.username.in_(names))
        await session.execute(delete(RefreshToken).where(RefreshToken.user_id.in_(found)))
        await session.execute(delete(User).where(User.username.in_(names)))


async def _undo_import(
    store: Store,
    kept: list[str],
    unrecorded: list[str],
    cause: AuditUnavailableError,
    result: object,
) -> NoReturn:
    """Delete the imported accounts whose records were lost, as ``create_user`` deletes its
    one: none is made unrecorded. Those recorded before the log failed stay (their records
    say they were imported); the error names both."""
    what = f"the account{'s' if len(unrecorded) > 1 else ''} " + ", ".join(map(repr, unrecorded))
    try:
        await _undo_creation(store, *unrecorded)
    except Exception:  # noqa: BLE001 - whatever stopped the undo, the accounts stand
        raise ChangeNotAuditedError(f"imported {what}", cause, result) from None
    before = f"; imported (and recorded) {', '.join(map(repr, kept))} before" if kept else ""
    raise not_made(what, cause, "import", before)


def make_database_file(settings: ServiceSettings) -> None:
    """Make the data folder and its empty SQLite file (mode 0600) for the migrations to
    fill, refusing a folder that lost its database (:func:`check_database`) as
    ``sealbox serve`` does (migrating an emptied file would hide the loss), and a folder
    it would not serve from (:func:`check_modes`)."""
    check_database(settings)
    make_folder(settings.data_dir)
    check_modes(settings)  # a folder `sealbox serve` would refuse to serve from
    if settings.database_url is None:
        DataDir(settings.data_dir).touch_private("sealbox.db")  # before SQLite makes it 0644


def open_database_file(settings: ServiceSettings, *, create: bool) -> None:
    """Check the data folder holds its database; with ``create``, make it when it does not.

    Only the commands that add something (an account, a client, an import) make a data
    folder: a mistyped folder given to any other is an error, not a new empty database.

    Raises:
        ConfigError: ``service_not_provisioned``, the folder does not exist or holds no
            database and ``create`` is false (said before its modes: see
            :func:`check_provisioned`); as :func:`check_database`, a folder that lost it; as
            :func:`check_modes`, a folder the service would refuse to serve from (open
            to other users, or another user's).
    """
    check_database(settings)
    database = settings.data_dir / "sealbox.db"
    if settings.database_url is None and not create:
        check_provisioned(settings.data_dir, database, "accounts database")
    # The service refuses such a folder: what a command wrote there it could not serve.
    check_modes(settings)
    if settings.database_url is None and not database.exists():
        make_database_file(settings)


async def _migrated_engine(settings: ServiceSettings) -> AsyncEngine:
    make_database_file(settings)
    engine = make_engine(settings.resolved_database_url())
    try:
        await migrate(engine)
    except BaseException:
        await engine.dispose()
        raise
    return engine


def _username_taken(name: str) -> ConfigError:
    return ConfigError(
        f"the username {name!r}, or one that looks like it, is taken",
        code="username_taken",
        facts={"username": name},
    )


def administer_accounts(
    settings: ServiceSettings,
    operation: Callable[[AccountAdmin], Awaitable[T]],
    *,
    audit: tuple[str, str] | None = None,
    create: bool = False,
) -> T:
    """Run one account operation on the settings' database and return its result.

    ``operation`` is given the :class:`~sealbox.accounts.admin.AccountAdmin`, e.g.
    ``lambda admin: admin.disable("bob")``. ``audit``: ``(event, account)`` to write to
    the audit log (``admin.disable``, ``bob``), in the change's transaction as its last
    step before the commit: a record the log refuses changes nothing (an import's records
    are written after it, and its accounts without one deleted again). ``create``:
    make the data folder and its database when there is none yet (an import). An import
    also records each line it refused, with outcome ``refused`` (its number, its name as
    given and the reason; never a hash), before the accounts it made.

    Raises:
        AccountNotFoundError: no account has the name given.
        ConfigError: a refused scope (``invalid_scope``) or password (``weak_password``);
            ``service_not_provisioned`` for a data folder that does not exist or holds
            no database.
        StorageError: code ``revocation_incomplete``, the change is in the database but
            Redis did not answer (running the operation again completes it; for a
            deletion, ``facts["failed"]`` is ``"deleted"``: it cannot be run again, and
            a service restarted reads the refused tokens from the database); it is
            audited as made, then a second record (outcome ``revocation_incomplete``)
            says what Redis missed. An audit log that cannot be opened: nothing is changed.
        StorageError: code ``audit_unavailable``, the change's record could not be
            written: nothing was changed (``did not disable 'bob': …``). An import whose
            records could not be
            written: the accounts without a record are deleted again (those recorded
            before the log failed stay, and the message names both); when a refused
            line's record is lost, none of the import's accounts stays.
        ConfigError: code ``data_dir_in_use``, a change that ends sessions, refused
            before it is made: a service with Redis serves the data folder and the
            settings have none (:func:`check_service_reached`).
    """
    open_database_file(settings, create=create)

    async def _run() -> T:
        # Opened first: a change whose record cannot be written is not made (fail-closed).
        log = None
        if audit is not None:
            make_folder(settings.data_dir)
            log = AuditLog(settings.resolved_audit_log())
        engine = make_engine(settings.resolved_database_url())
        revocations: Revocations | None = None
        try:
            await migrate(engine)
            store = Store(sessionmaker(engine), refresh_ttl=settings.refresh_token_ttl)
            revocations, after = open_revocations(settings, store)
            hasher = PasswordHasher(settings.password_profile)
            # One account's change is recorded in its transaction (an import, after it).
            record = None
            if log is not None and audit is not None and audit[0] != "admin.import":
                record = ChangeRecord(log, audit[0], user=audit[1], address=None, detail=_CLI)
            admin = AccountAdmin(
                store,
                revocations,
                hasher,
                access_token_ttl=settings.access_token_ttl,
                password_policy=functools.partial(password_policy, max_length=hasher.max_length),
                default_scopes=DEFAULT_SCOPES,
                after_change=after,
                before_change=lambda: check_service_reached(settings),
                change_record=record,
            )
            try:
                result = await operation(admin)
            except AuditUnavailableError as exc:
                if audit is None or record is None:
                    raise
                # Refused in the change's transaction: nothing was changed.
                raise not_made(repr(record.user), exc, _UNDONE.get(audit[0], "change")) from None
            except StoreUnavailableError as exc:
                if exc.store != "Redis" or record is None or not record.written:
                    raise  # the database: whether the change was made is not known
                unrecorded = ""
                if log is not None and audit is not None:
                    # Recorded as made in its transaction: this record says what it missed.
                    try:
                        log.record(
                            audit[0],
                            outcome="revocation_incomplete",
                            user=record.user,
                            detail=f"{_CLI}; Redis did not answer",
                        )
                    except AuditUnavailableError as lost:
                        unrecorded = f"; nor can the audit log be written ({lost.facts['problem']})"
                # A deletion cannot be run again (the account is gone): its hint differs.
                deleted = audit is not None and audit[0] == "admin.delete"
                raise StorageError(
                    "the change is recorded in the database, but Redis did not answer "
                    f"({exc.cause}): running services may not refuse the account's live "
                    f"access tokens yet{unrecorded}",
                    code="revocation_incomplete",
                    facts={"failed": "deleted"} if deleted else None,
                ) from None
            if log is not None and audit is not None and record is None:
                await _record_import(log, audit[0], store, result)
            return result
        finally:
            if revocations is not None:
                await revocations.close()
            await engine.dispose()
            if log is not None:
                log.close()

    return asyncio.run(_run())


async def _record_import(log: AuditLog, event: str, store: Store, result: object) -> None:
    """Write the audit records of an import that succeeded (its refused lines too); undo
    its accounts whose records are lost."""
    if isinstance(result, ImportReport):

        def record(outcome: str, user: str | None, detail: str) -> None:
            log.record(event, outcome=outcome, user=user, detail=detail)

        await record_import(result, record, store, by=_CLI, entry="line")


async def record_import(
    report: ImportReport,
    record: Callable[[str, str | None, str], None],
    store: Store,
    *,
    by: str,
    entry: str,
) -> None:
    """Write the ``admin.import`` records of an import, as ``sealbox users import`` and
    ``POST /users/import`` both do; undo the accounts whose records are lost.

    ``record(outcome, user, detail)`` writes one record. Each refused line comes first
    (``"{by}: {entry} {number}: {reason}"``, which quote no hash: see
    :mod:`sealbox.accounts.user_import`), then each account created (``by``): a lost
    record of a refusal then undoes every account of the import, none recorded yet.

    Raises:
        StorageError: code ``audit_unavailable``, a record could not be written: the
            accounts without a record are deleted again (those recorded before stay,
            and the message names both); for an import that created nothing, the
            message says so.
        ChangeNotAuditedError: neither could those accounts be deleted: they stand.
    """
    users = list(report.imported)
    whole = "" if report.accepted else "; nothing was imported"
    recorded = 0
    try:
        for p in report.problems:
            record("refused", p.username, f"{by}: {entry} {p.line}: {p.reason}{whole}")
        for user in users:
            record("success", user, by)
            recorded += 1
    except AuditUnavailableError as exc:
        if not users:
            # Nothing was imported: only the refusals go unrecorded.
            raise not_made("any account", exc, "import") from None
        await _undo_import(store, users[:recorded], users[recorded:], exc, report)


def reset_totp(settings: ServiceSettings, name: str) -> tuple[str, bool]:
    """Remove the second factor of account ``name`` and end its sessions; return its name
    and whether it had one.

    For a user who lost the authenticator and the recovery codes: the password alone
    logs in again, and the user may enrol anew; the tokens made with the old factor are
    refused (:meth:`~sealbox.accounts.admin.AccountAdmin.reset_totp`). Audited as
    ``admin.reset_totp``.

    Raises:
        AccountNotFoundError: no account has that name.
        StorageError: code ``revocation_incomplete``, as for every change that ends
            sessions (:func:`administer_accounts`); ``data_dir_in_use`` before it is made.
    """
    info, removed = administer_accounts(
        settings, lambda admin: admin.reset_totp(name), audit=("admin.reset_totp", name)
    )
    return info.username, removed


def audited_accounts(result: object, given: str) -> list[str]:
    """The accounts an audit line of an account operation names, by their stored names.

    Usernames are compared under RFC 8265 rules (``Alice`` names ``alice``), so the line
    names the account as stored, not as typed: each account imported, or the account
    returned, alone or first of a pair (``reset_totp`` answers ``(account, removed)``).
    ``given`` only for a result that names no account.
    """
    if isinstance(result, ImportReport):
        return list(result.imported)
    if isinstance(result, tuple) and result:
        result = result[0]
    return [result.username if isinstance(result, AccountInfo) else given]
