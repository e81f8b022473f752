"""sealbox's database: the async engine, sessions, and the Alembic migrations that own its schema.

SQLite (through aiosqlite) by default; PostgreSQL through asyncpg when the URL says so.
The schema — users, refresh-token families, revoked tokens, and the service's transit
keys — is owned by the Alembic migrations in ``sealbox/accounts/migrations``, applied by
:func:`migrate` (under an advisory lock on PostgreSQL, so several hosts starting at once
do not race). ``sealbox serve``, ``sealbox users`` and an app using
:mod:`sealbox.integrations.fastapi` run the same migrations, so any of them can open a
database another one made.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InvalidRequestError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)

from sealbox.accounts.db_unreachable import (
    DatabaseFullError,
    disk_full,
    raise_unreachable_as_unavailable,
    refusal,
    refused_for_now,
)
from sealbox.exceptions import ConfigError, LockTimeoutError, StorageError, StoreUnavailableError
from sealbox.storage import lock_timeout, locked

__all__ = [
    "MIGRATIONS",
    "async_url",
    "current_revision",
    "make_engine",
    "migrate",
    "newest_revision",
    "sessionmaker",
]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any 64-bit constant: the PostgreSQL advisory lock that serialises migrations.
_MIGRATION_LOCK = 0x5EA1B0C5
# Seconds a statement waits for another process's write to an SQLite file to end, unless
# SEALBOX_LOCK_TIMEOUT says otherwise (a service's requests wait too: less than a file's).
_SQLITE_WAIT: Final = 30.0
_SQLITE_BUSY: Final = 5


# The async driver sealbox opens each database with, for a URL that names none (libpq's
# and Heroku's ``postgres://``, SQLAlchemy's ``sqlite://``): their default drivers are
# synchronous ones sealbox does not install.
_ASYNC_DRIVERS: Final = MappingProxyType(
    {
        "postgresql": "postgresql+asyncpg",
        "postgres": "postgresql+asyncpg",
        "sqlite": "sqlite+aiosqlite",
    }
)


def async_url(url: str) -> str:
    """``url`` with the async driver sealbox uses where it names none, and libpq's
    ``sslmode`` given to asyncpg as its ``ssl`` (which takes the same values); any other
    URL as it is."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return url  # not a URL: make_engine refuses it
    changed = parsed
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    if driver is not None:
        changed = changed.set(drivername=driver)
    query = changed.query
    if changed.drivername == "postgresql+asyncpg" and "sslmode" in query and "ssl" not in query:
        ssl = {("ssl" if k == "sslmode" else k): v for k, v in query.items()}
        changed = changed.set(query=ssl)
    return url if changed is parsed else changed.render_as_string(hide_password=False)


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create the async engine; SQLite gets WAL mode and foreign keys, and a database
    server that cannot be reached or drops a connection in use raises
    :class:`~sealbox.exceptions.StoreUnavailableError` (:mod:`sealbox.accounts.db_unreachable`).

    ``postgresql://`` (or ``postgres://``) opens with asyncpg, ``sqlite://`` with
    aiosqlite, and libpq's ``sslmode=`` is read as asyncpg's ``ssl=``
    (:func:`async_url`).

    Raises:
        ConfigError: code ``database_url_invalid``, ``url`` is no URL of a database
            sealbox has an async driver for (the message shows it without its password).
    """
    url = async_url(url)
    wait = _SQLITE_WAIT
    if url.startswith("sqlite"):
        wait = lock_timeout(_SQLITE_WAIT)
        kwargs.setdefault("connect_args", {"timeout": wait})
    else:
        kwargs.setdefault("pool_pre_ping", True)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise _invalid_url(url, exc) from None
    if parsed.drivername == "postgresql+asyncpg":
        parsed, options = _asyncpg_options(parsed)
        kwargs["connect_args"] = {**options, **kwargs.get("connect_args", {})}
        url = parsed.render_as_string(hide_password=False)
    try:
        engine = create_async_engine(url, **kwargs)
    except (ArgumentError, ImportError, InvalidRequestError, ValueError) as exc:
        raise _invalid_url(url, exc) from None
    _check_ports(engine)
    if not url.startswith("sqlite"):
        raise_unreachable_as_unavailable(engine)
    else:

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # WAL with NORMAL: never corrupt, and a commit needs no fsync (the last
            # commits may be lost on power failure, not on a crash of the process).
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={math.ceil(wait * 1000)}")
            cur.close()

        @event.listens_for(engine.sync_engine, "handle_error")
        def _busy(context: ExceptionContext) -> BaseException | None:
            # Another process held the file's write lock past the wait (a writer stopped
            # or stuck): the error of a file lock waited on, not a bug of the statement.
            # A write its disk had no room for is the file's failure too, not a bug.
            database = engine.url.database or "the SQLite database"
            if not _sqlite_busy(context.original_exception):
                return disk_full(context.original_exception, database)
            return LockTimeoutError(database, wait)

    return engine


def _sqlite_busy(error: BaseException | None) -> bool:
    """Whether ``error`` (or what it wraps) is SQLite's SQLITE_BUSY: the file stayed locked."""
    while error is not None:
        code = getattr(error, "sqlite_errorcode", None)
        if isinstance(code, int):
            return code & 0xFF == _SQLITE_BUSY
        error = error.__cause__
    return False


def _invalid_url(
    url: str | URL, exc: Exception | str, *, hide: frozenset[str] = frozenset(), **facts: str
) -> ConfigError:
    """``database_url_invalid`` for ``url``, refused for ``exc`` (or the reason given);
    the values of the query parameters ``hide`` are not shown either."""
    try:
        shown = repr(shown_url(make_url(url), hide=hide))
    except (ArgumentError, ValueError):
        shown = "(not shown: it may hold a password)"  # unparsed, so nothing to mask
    why = exc if isinstance(exc, str) else type(exc).__name__
    return ConfigError(
        f"the database URL {shown} is not one sealbox can open ({why})",
        hint="give postgresql+asyncpg://USER@HOST/DATABASE or sqlite+aiosqlite:///FILE",
        code="database_url_invalid",
        facts=facts,
    )


# What asyncpg.connect takes from a URL's query (SQLAlchemy passes the query to it as
# keyword arguments): text as it is, numbers and flags read here, since asyncpg compares
# them to numbers and takes any text ("false" too) as true. prepared_statement_cache_size
# is SQLAlchemy's own; connect_timeout is libpq's name of asyncpg's timeout.
_ASYNCPG_TEXT: Final = frozenset(
    {
        "host",
        "port",
        "user",
        "password",
        "passfile",
        "service",
        "servicefile",
        "database",
        "ssl",
        "target_session_attrs",
        "krbsrvname",
        "gsslib",
    }
)
_POSITIVE: Final = "a number of seconds above 0"
_COUNT: Final = "a whole number, 0 or more"
_ASYNCPG_NUMBERS: Final = MappingProxyType(
    {
        "timeout": ("timeout", float, _POSITIVE),
        "connect_timeout": ("timeout", float, _POSITIVE),
        "command_timeout": ("command_timeout", float, _POSITIVE),
        "statement_cache_size": ("statement_cache_size", int, _COUNT),
        "max_cached_statement_lifetime": ("max_cached_statement_lifetime", int, _COUNT),
        "max_cacheable_statement_size": ("max_cacheable_statement_size", int, _COUNT),
        "prepared_statement_cache_size": ("prepared_statement_cache_size", int, _COUNT),
    }
)
_FLAGS: Final = MappingProxyType(
    {"true": True, "1": True, "yes": True, "on": True}
    | {"false": False, "0": False, "no": False, "off": False}
)


def _asyncpg_options(url: URL) -> tuple[URL, dict[str, Any]]:
    """``url`` without its numbers and flags, and those as asyncpg takes them.

    Raises:
        ConfigError: ``database_url_invalid``, naming a parameter asyncpg does not take,
            one given twice (``timeout`` and ``connect_timeout`` are one), or a value
            that cannot be read.
    """
    options: dict[str, Any] = {}
    if "timeout" in url.query and "connect_timeout" in url.query:
        # Both are asyncpg's timeout: one would silently win over the other.
        raise _invalid_url(
            url,
            "the parameters 'timeout' and 'connect_timeout' are the same setting, "
            "asyncpg's timeout: keep 'connect_timeout', libpq's name, which psql reads too",
            parameter="timeout",
        )
    for name, value in url.query.items():
        if name not in _ASYNCPG_TEXT and name not in _ASYNCPG_NUMBERS and name != "direct_tls":
            raise _invalid_url(
                url,
                f"asyncpg takes no parameter {name!r}",
                hide=frozenset({name}),
                parameter=name,
            )
        if not isinstance(value, str) and name != "host":  # several hosts are allowed
            raise _invalid_url(url, f"the parameter {name!r} is given twice", parameter=name)
        if name == "direct_tls":
            options[name] = _FLAGS.get(str(value).lower())
            if options[name] is None:
                raise _invalid_url(
                    url, f"the parameter {name!r} is not true or false", parameter=name
                )
        elif name in _ASYNCPG_NUMBERS:
            option, kind, wanted = _ASYNCPG_NUMBERS[name]
            options[option] = _number(url, name, str(value), kind, wanted)
    return url.difference_update_query(options.keys() | {"connect_timeout"}), options


def _number(url: URL, name: str, value: str, kind: type[float], wanted: str) -> float:
    try:
        number = kind(value)
    except ValueError:
        number = -1
    if not math.isfinite(number) or number < 0 or (number == 0 and wanted == _POSITIVE):
        raise _invalid_url(url, f"the parameter {name!r} is not {wanted}", parameter=name)
    return number


def _check_ports(engine: AsyncEngine) -> None:
    """Refuse a port out of 1-65535 (in the URL's host or a ``host=HOST:PORT`` of its
    query), which asyncpg would raise as an ``OverflowError`` when connecting."""
    _, params = engine.sync_engine.dialect.create_connect_args(engine.url)
    ports = params.get("port")
    # Port 0 is left out of those parameters (and asyncpg would try 5432 instead).
    for port in [engine.url.port, *(ports if isinstance(ports, list) else [ports])]:
        if port is not None and not 0 < int(port) <= 65535:
            raise _invalid_url(engine.url, f"its port {port} is not in 1-65535")


def shown_url(url: URL, *, hide: frozenset[str] = frozenset()) -> str:
    """``url`` as messages show it: without its password, whether in the user part or
    (as libpq and asyncpg also take it) a ``password=`` query parameter, nor the values of
    the parameters ``hide``."""
    hidden = {k: "***" for k in url.query if k.lower() in _PASSWORD_PARAMETERS or k in hide}
    shown = url.update_query_dict(hidden).render_as_string(hide_password=True)
    return shown.replace("=%2A%2A%2A", "=***")  # as the user part's password shows


_PASSWORD_PARAMETERS: Final = frozenset({"password", "sslpassword"})


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[Any]:
    """A session factory whose objects stay usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


def _upgrade(connection: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest migration (idempotent).

    Raises:
        StorageError: code ``database_unavailable``, the database cannot be opened;
            ``migration_failed``, the database refused the change (a full disk) and
            kept its schema as it was, or it has sealbox's tables without the record of
            their migrations; ``database_newer``, a newer sealbox migrated it (its
            revision is not one of this version's).

    The migrations run in one transaction, on SQLite too, so a failure leaves nothing
    half made. Processes starting at once take turns: PostgreSQL through an advisory lock
    (in ``_upgrade_checked``, before the schema is read), an SQLite file through the lock
    of sealbox's file writers.
    """
    database = engine.url.database
    if engine.url.get_backend_name() == "sqlite" and database and database != ":memory:":
        with locked(database):  # blocks the loop, at start-up only
            _open_sqlite(engine, database)
            ddl_engine = _transactional_ddl(engine)
            try:
                await _apply(ddl_engine)
            finally:
                await ddl_engine.dispose()
        return
    await _apply(engine)


async def _apply(engine: AsyncEngine) -> None:
    """Run the migrations in one transaction; the database's own refusals (a full disk,
    a file that cannot be written) become :class:`StorageError` ``migration_failed``."""
    try:
        async with _begin(engine) as conn:
            await conn.run_sync(_upgrade_checked)
    except (DBAPIError, DatabaseFullError) as exc:
        cause: BaseException = exc
        if isinstance(exc, DBAPIError) and exc.orig is not None:
            cause = exc.orig
        lines = str(cause).strip().splitlines()
        if isinstance(exc, DatabaseFullError):
            lines = ["database or disk is full"]
        raise StorageError(
            "cannot bring the database's schema up to date: "
            f"{lines[0] if lines else type(cause).__name__} (nothing was changed)",
            hint="free disk space, or check that the database may be written, and start again",
            code="migration_failed",
            facts={"database": shown_url(engine.url)},
        ) from None


def _transactional_ddl(engine: AsyncEngine) -> AsyncEngine:
    """An engine on ``engine``'s SQLite file whose transactions hold DDL too.

    Python's sqlite3 module begins a transaction only before a data change, so each
    ``CREATE TABLE`` of a migration is committed on its own: a migration stopped half
    way (a full disk, a killed process) left tables without the revision that made
    them, and every later start failed on "table already exists". Here the driver
    begins nothing itself and each transaction starts with an explicit ``BEGIN``, so a
    migration is applied whole or not at all (SQLite's DDL is transactional).

    Foreign keys are not enforced on it: a migration that changes a table SQLite cannot
    alter in place copies it to a new one and drops the old, and with enforcement that
    drop deletes the rows of every table whose foreign key cascades from it (the refresh
    families of every account). The keys are checked once the migrations are applied
    (:func:`_check_foreign_keys`), as SQLite's own procedure for such changes does.
    """
    from sqlalchemy.pool import NullPool

    ddl_engine = make_engine(engine.url.render_as_string(hide_password=False), poolclass=NullPool)

    @event.listens_for(ddl_engine.sync_engine, "connect")
    def _driver_begins_nothing(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=OFF")  # after make_engine's ON; outside a transaction
        cur.close()

    @event.listens_for(ddl_engine.sync_engine, "begin")
    def _begin_explicitly(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    return ddl_engine


def _upgrade_checked(connection: Connection) -> None:
    """:func:`_upgrade`, refusing (``migration_failed``) a schema that no migration made."""
    from sqlalchemy import inspect, text

    if connection.dialect.name == "postgresql":
        # Taken before the schema is looked at: a first migration committing between the
        # two looks below would show its tables without their revision.
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
    revision = current_revision(connection)
    if revision is not None and revision == newest_revision():
        # Nothing to do, known without Alembic: loading it and reading every migration
        # script costs a command that opens the database a third of a second.
        return
    if revision is not None and revision not in _known_revisions():
        # Alembic would fail to find it ("Can't locate revision"), an error without a word
        # for the operator; upgrading past it, or down to it, is not this version's to do.
        from sealbox import __version__

        raise StorageError(
            f"the database is at migration {revision}, which sealbox {__version__} does not "
            "know: a newer sealbox has migrated it",
            hint="run the sealbox version that last used this database (or a newer one), "
            "or restore a backup taken before the upgrade",
            code="database_newer",
            facts={"database": shown_url(connection.engine.url), "revision": revision},
        )
    if revision is None and inspect(connection).has_table("users"):
        raise StorageError(
            "the database has a table 'users' but no record of sealbox's migrations "
            "(a first start that stopped half way, or another application's table)",
            hint="if it holds no sealbox accounts, give sealbox a database of its own "
            "(or move this file away and start again); otherwise restore it from a backup",
            code="migration_failed",
            facts={"database": shown_url(connection.engine.url)},
        )
    sqlite = connection.dialect.name == "sqlite"
    before = _broken_keys(connection) if sqlite and revision is not None else set()
    _upgrade(connection)
    if sqlite:
        _check_foreign_keys(connection, before)


def _broken_keys(connection: Connection) -> set[tuple[Any, ...]]:
    from sqlalchemy import text

    return {tuple(row) for row in connection.execute(text("PRAGMA foreign_key_check"))}


def _check_foreign_keys(connection: Connection, before: set[tuple[Any, ...]]) -> None:
    """Refuse (``migration_failed``, the transaction rolled back) migrations that left a
    row whose foreign key names no row: on SQLite the keys are checked here, at the end.
    Rows that named none before (``before``) are not the migrations' doing: kept as they are."""
    broken = _broken_keys(connection) - before
    if broken:
        tables = sorted({str(row[0]) for row in broken})
        raise StorageError(
            "cannot bring the database's schema up to date: rows of "
            f"{', '.join(tables)} name rows that do not exist (nothing was changed)",
            hint="restore the database from a backup, or report the rows named",
            code="migration_failed",
            facts={"database": shown_url(connection.engine.url), "tables": ", ".join(tables)},
        )


def _known_revisions() -> set[str]:
    """The migrations this version of sealbox holds."""
    from alembic.script import ScriptDirectory

    return {script.revision for script in ScriptDirectory(str(MIGRATIONS)).walk_revisions()}


@contextlib.asynccontextmanager
async def _begin(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection in a transaction (committed at the end), as ``engine.begin()`` gives,
    or :class:`StorageError` ``database_unavailable`` saying why there is none.

    The driver's first line says why (no server there, no such database, a refused
    user); the URL is shown without its password.
    """
    try:
        connection = await engine.connect()
    except (OSError, DBAPIError, StoreUnavailableError) as exc:
        # The driver's error, whose first line is shown: a server's address is the
        # operator's to see here, unlike in a request's answer.
        cause = exc.__cause__ if isinstance(exc, StoreUnavailableError) and exc.__cause__ else exc
        if isinstance(cause, DBAPIError) and cause.orig is not None:
            cause = cause.orig
        raise _unavailable(engine, cause) from None
    try:
        async with connection.begin():
            yield connection
    finally:
        await connection.close()


def _open_sqlite(engine: AsyncEngine, database: str) -> None:
    """Open (or create) the SQLite file once, synchronously, or raise ``database_unavailable``.

    aiosqlite stops the thread of a connection that failed to open without waiting for
    it; if the event loop closes first (a CLI command ends right after the error), that
    thread raises into a closed loop. Finding the failure here keeps aiosqlite out of it.
    """
    import os
    import sqlite3

    # A file made here is its owner's alone (it holds password hashes and sealed keys);
    # SQLite gives its journal and WAL files the database file's mode. One there already,
    # or one that cannot be made, is left to sqlite3 to open or to say why. Exactly 0600
    # whatever the umask: under 0277 it would be 0400, which its owner could not write.
    with contextlib.suppress(OSError):
        fd = os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.fchmod(fd, 0o600)
        finally:
            os.close(fd)
    try:
        sqlite3.connect(database).close()
    except sqlite3.Error as exc:
        raise _unavailable(engine, exc) from None


def _unavailable(engine: AsyncEngine, cause: BaseException) -> StorageError:
    lines = str(cause).strip().splitlines()
    where = shown_url(engine.url)
    # What a server refused (credentials, a database it has not) picks the hint.
    refused = refusal(cause, engine.url) if engine.dialect.name == "postgresql" else None
    for_now = refused_for_now("PostgreSQL", "opening a connection", cause)
    if refused is None and for_now is not None:  # no connection slot left, no memory
        refused = {"failed": for_now.facts["failed"]}
    return StorageError(
        f"cannot open the database {where}: {lines[0] if lines else type(cause).__name__}",
        hint="check the database URL, and that its server runs and lets this user in",
        code="database_unavailable",
        facts={**(refused or {}), "database": where},
    )


def current_revision(connection: Connection) -> str | None:
    """The Alembic revision the database is at (``None`` when empty)."""
    from sqlalchemy import inspect, text

    # Alembic's own table, read as Alembic reads it (the connection's search path), without
    # loading Alembic; a table of several rows (branches, which sealbox never makes) is
    # Alembic's to read and refuse.
    if not inspect(connection).has_table(_VERSION_TABLE):
        return None
    query = text(f"SELECT version_num FROM {_VERSION_TABLE}")  # noqa: S608 - a constant
    found = connection.execute(query).scalars().all()
    if len(found) <= 1:
        return str(found[0]) if found else None
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def newest_revision() -> str:
    """The revision of this version's newest migration, from the scripts' names: the
    migration ``NNNN_what.py`` holds revision ``NNNN`` (a test keeps that true)."""
    names = (p.name for p in (MIGRATIONS / "versions").iterdir() if p.suffix == ".py")
    return max(n for n in names if n[:_REVISION_DIGITS].isdigit())[:_REVISION_DIGITS]


# Alembic's default table of the revision a database is at, and a revision's length.
_VERSION_TABLE: Final = "alembic_version"
_REVISION_DIGITS: Final = 4
