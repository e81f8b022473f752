"""A database server that cannot be reached, or that drops a connection in use, becomes
:class:`~sealbox.exceptions.StoreUnavailableError` (code ``database_unavailable``) at the
statement that needed it; a statement the database refused stays the driver's error.

The service answers the first with ``503 store_unavailable`` and a ``Retry-After``, the
command line with its message and hint: neither is a fault of the caller, nor a bug. A
statement the server answered with an error (a syntax error, a missing column, a
constraint) is one, and is left as it is.

A server that answers a new connection by refusing it (:func:`refusal`: credentials it
does not take, a database it does not have) is the same error, said as the refusal it is:
the operator's remedy is the URL or the role, not waiting. The user and database are
named, never the password or the URL.

Installed on every PostgreSQL engine :func:`~sealbox.accounts.database.make_engine`
makes: an SQLite file is no server, and its ``OperationalError`` is as often a
statement's fault (``no such table``) as the file's. One of the file's is told apart by
its result code: a write refused because the disk that holds the file is full
(``SQLITE_FULL``) becomes :class:`DatabaseFullError` (code ``disk_full``), answered the
same way (``503 store_unavailable``): SQLite rolled the transaction back, nothing of it
was kept, and the same request succeeds once there is room again.

A PostgreSQL server that answers but refuses a statement for a state of its own that
passes (:func:`refused_for_now`) is the same error, said as that refusal (``refused``,
``facts["failed"]``): a read-only server (a hot standby after a failover, or
``default_transaction_read_only``: ``read_only``), no room on its disk (``disk_full``),
no memory or other resource (``resources``), no connection slot left (``connections``),
a statement canceled (``statement_timeout``, an administrator's cancel: ``canceled``),
a lock not granted in time (``lock_timeout`` or ``NOWAIT``: ``lock_timeout``), a
transaction in conflict with another running at the same time (a deadlock, a
serialization failure: ``conflict``). The server rolled the statement's transaction
back; reads a read-only server answers go on working. The connection stays usable, so
no outage is logged for it.

A transaction in conflict is not tried again here: sealbox's changes are each their own
transaction, and an audited one writes its record before the commit (and some publish
to Redis after it), so running it again would repeat what is outside the database. The
caller sends the request again, as the 503 asks.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import event
from sqlalchemy.engine import URL, ExceptionContext
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from sealbox.accounts.outage import OutageState
from sealbox.exceptions import StoreUnavailableError

__all__ = [
    "DatabaseFullError",
    "disk_full",
    "raise_unreachable_as_unavailable",
    "refusal",
    "refused_for_now",
]

# SQLSTATEs of a server that ended or refused the session, not a statement's error:
# class 08 (connection exception), an administrator or a crash ending the backend,
# a server starting or stopping, an idle session ended. (No connection slot left,
# 53300, is a refusal for now: see _FOR_NOW.)
_LOST_CLASSES: Final = ("08",)
_LOST_STATES: Final = frozenset({"57P01", "57P02", "57P03", "57P05"})
_STORES: Final = {"postgresql": "PostgreSQL"}
# SQLSTATEs of a server refusing a new connection. Class 28: a wrong password (28P01), an
# unknown role, one that may not log in, no pg_hba.conf line letting it in (28000).
_CREDENTIALS_CLASS: Final = "28"
_NO_DATABASE: Final = "3D000"
# SQLSTATEs of a server refusing a statement for a state of its own that passes, not for
# the statement: what failed (a fact) and what it refused (in the message). Class 53
# (insufficient resources) not named here is ``resources``.
_FOR_NOW: Final = {
    "25006": ("read_only", "writes (the server is read-only)"),
    "53100": ("disk_full", "the statement (its disk is full)"),
    "53200": ("resources", "the statement (it is out of memory)"),
    "53300": ("connections", "a connection (too many connections)"),
    "57014": ("canceled", "the statement (canceled: statement_timeout or a cancel request)"),
    "55P03": ("lock_timeout", "the statement (a lock it waited for was not granted in time)"),
    # The server chose this transaction to roll back, for another's sake.
    "40001": ("conflict", "the transaction (a serialization failure: it conflicted with another)"),
    "40P01": ("conflict", "the transaction (a deadlock with another)"),
}
_RESOURCES_CLASS: Final = "53"
_FOR_NOW_HINTS: Final = {
    "read_only": "the server is a standby, or default_transaction_read_only is on for the "
    "database or role: give the primary's address for {store}, or turn the setting off",
    "disk_full": "free disk space on the {store} server, then try again",
    "resources": "check the {store} server's memory and resource settings, then try again",
    "connections": "raise max_connections on the {store} server (or the CONNECTION LIMIT of "
    "the role or database), or lower the number of clients and pool sizes",
    "canceled": "try again; a statement that runs past statement_timeout again points at "
    "a lock held elsewhere, or at a timeout set too short for the role or database",
    "lock_timeout": "try again; a lock not granted again points at a lock held elsewhere, "
    "or at a lock_timeout set too short for the role or database",
    "conflict": "try again: {store} rolled the transaction back, for a conflict with "
    "another running at the same time (a deadlock or a serialization failure)",
}
# SQLite's primary result code of a write the file system had no room for.
_SQLITE_FULL: Final = 13


class DatabaseFullError(StoreUnavailableError):
    """An SQLite database that could not be written: the disk that holds it is full.

    SQLite rolled back the transaction that needed the room, so nothing of it was kept;
    the same change succeeds once room is freed, without a restart. Code ``disk_full``,
    fact ``path`` (the database file).

    Unless ``change_made`` (:meth:`after_change`, fact ``change``: ``"made"``): the write
    refused followed a change already committed (the refusal of the access tokens a
    logout or a deletion ends, on the revocation lists), so the change stands, and those
    tokens may pass until they expire; the change needs no retry.
    """

    def __init__(self, path: str, cause: str, *, change_made: bool = False) -> None:
        kept = (
            "the change was made before it; the refusal of the access tokens it ends "
            "was not stored, and they may pass until they expire"
            if change_made
            else "nothing of the change was kept"
        )
        super().__init__(
            "SQLite",
            "writing the database",
            cause,
            code="disk_full",
            hint=f"free space on the file system that holds {path}"
            + ("" if change_made else ", then try again"),
            # "failed": what the disk refused, the refusal of the tokens (the CLI's hint).
            facts={"path": path, "change": "made", "failed": "refusal"}
            if change_made
            else {"path": path},
            # Not "did not answer": the file answered, and refused for want of room.
            message=f"cannot write the database {path}: the disk that holds it is full ({kept})",
        )
        self.path = path
        self.change_made = change_made

    def after_change(self) -> DatabaseFullError:
        """This error, said of a write that followed a change already committed."""
        return DatabaseFullError(self.path, self.cause, change_made=True)


def disk_full(error: BaseException | None, path: str) -> DatabaseFullError | None:
    """:class:`DatabaseFullError` for the SQLite database ``path`` when ``error`` (or what
    it wraps) is SQLite's ``SQLITE_FULL``; ``None`` for any other error."""
    while error is not None:
        code = getattr(error, "sqlite_errorcode", None)
        if isinstance(code, int):
            return (
                DatabaseFullError(path, type(error).__name__)
                if code & 0xFF == _SQLITE_FULL
                else None
            )
        error = error.__cause__
    return None


def raise_unreachable_as_unavailable(engine: AsyncEngine) -> None:
    """Make ``engine`` raise :class:`StoreUnavailableError` where its server could not be
    reached or dropped the connection, whether connecting or running a statement."""
    store = _STORES.get(engine.dialect.name, engine.dialect.name)
    state = OutageState(store)

    dialect = engine.dialect
    ping = dialect.do_ping

    def _ping(dbapi_connection: Any) -> bool:
        # A pooled connection to a server that stopped answering: asyncpg's timeout is no
        # DBAPI error, and would leave the pool's check as a bare TimeoutError (a 500).
        # Answered as a connection lost, the pool opens a new one, which fails cleanly.
        try:
            return bool(ping(dbapi_connection))
        except TimeoutError:
            return False

    dialect.do_ping = _ping  # type: ignore[method-assign]

    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        # The driver's own socket errors (refused, no route, a name that does not
        # resolve, a timeout) are no DBAPI errors: SQLAlchemy lets them through as they
        # are, past every error event.
        try:
            connection = dialect.connect(*cargs, **cparams)
        except OSError as exc:
            raise state.down(_unavailable(store, "opening a connection", exc)) from exc
        state.back()
        return connection

    @event.listens_for(engine.sync_engine, "handle_error")
    def _lost(context: ExceptionContext) -> BaseException | None:
        # The pool's check of a connection before lending it: a failure there is the
        # pool's cue to open a new one, which must not be turned into an error.
        if context.is_pre_ping:
            return None
        if context.connection is None:  # no connection could be opened
            error = _driver_error(context)
            return state.down(_unavailable(store, "opening a connection", error, engine.url))
        if not lost(context):
            # A server that answered and refused for a state of its own: the connection
            # still works (reads go on), so no outage is noted; the 503 says why.
            return refused_for_now(store, "running a statement", _driver_error(context))
        return state.down(_unavailable(store, "running a statement", _driver_error(context)))


def lost(context: ExceptionContext) -> bool:
    """Whether the error of ``context`` is a connection lost, not a statement refused."""
    if context.is_disconnect:
        return True
    # asyncpg's command_timeout (or timeout) passed: the server did not answer in time.
    # No DBAPI error, so SQLAlchemy has nothing to tell it from a bug by.
    if isinstance(context.original_exception, TimeoutError):
        return True
    error = context.sqlalchemy_exception
    if isinstance(error, OperationalError):
        return True
    # asyncpg's InterfaceError on a closed connection is a disconnect (above); its others
    # (arguments of the wrong type or number, a connection used by two tasks) are bugs.
    state = _sqlstate(context.original_exception)
    return state is not None and (state.startswith(_LOST_CLASSES) or state in _LOST_STATES)


def refused_for_now(
    store: str, operation: str, error: BaseException
) -> StoreUnavailableError | None:
    """The error for a server that refused ``error``'s statement for a state of its own
    that passes (read-only, a full disk, no memory or connection slot left, a statement
    or lock timeout, a deadlock or serialization failure), or ``None`` when ``error`` is
    none of these (a statement's own error)."""
    state = _sqlstate(error)
    if state is None:
        return None
    if state in _FOR_NOW:
        failed, said = _FOR_NOW[state]
    elif state.startswith(_RESOURCES_CLASS):  # 53000, 53400 (a configured limit reached)
        failed, said = "resources", "the statement (it is out of resources)"
    else:
        return None
    return StoreUnavailableError(
        store,
        operation,
        type(error).__name__,
        code="database_unavailable",
        refused=said,
        hint=_FOR_NOW_HINTS[failed].format(store=store),
        facts={"failed": failed, "sqlstate": state},
    )


def _sqlstate(error: BaseException) -> str | None:
    for holder in (error, error.__cause__):
        state = getattr(holder, "sqlstate", None) or getattr(holder, "pgcode", None)
        if isinstance(state, str):
            return state
    return None


def _driver_error(context: ExceptionContext) -> BaseException:
    """The driver's own exception: SQLAlchemy's asyncpg adapter wraps it in its own."""
    error = context.original_exception
    return error.__cause__ if error.__cause__ is not None else error


def refusal(error: BaseException, url: URL) -> dict[str, str] | None:
    """What a server that refused a new connection to ``url`` with ``error`` refused, as
    facts (``failed``: ``"credentials"`` with the ``user``, or ``"database"`` with its
    name, ``dbname``), or ``None`` when ``error`` is no such refusal."""
    state = _sqlstate(error)
    if state is None:
        return None
    if state.startswith(_CREDENTIALS_CLASS):
        return {"failed": "credentials", "user": _user(url)}
    if state == _NO_DATABASE:
        # asyncpg's and libpq's default database is the user's name.
        return {"failed": "database", "dbname": url.database or _user(url)}
    return None


def _user(url: URL) -> str:
    """The user a connection to ``url`` signs in as: asyncpg's and libpq's default when
    the URL names none."""
    if url.username:
        return url.username
    import getpass
    import os

    return os.environ.get("PGUSER") or getpass.getuser()


def _unavailable(
    store: str, operation: str, error: BaseException, url: URL | None = None
) -> StoreUnavailableError:
    """The error for ``error``, named by its class, never its message: a driver's message
    may quote a statement or its parameters."""
    cause = type(error).__name__
    refused = None if url is None else refusal(error, url)
    for_now = refused_for_now(store, operation, error) if refused is None else None
    if for_now is not None:  # no connection slot left, a server out of memory
        return for_now
    if refused is None:
        return StoreUnavailableError(store, operation, cause, code="database_unavailable")
    if refused["failed"] == "credentials":
        user = refused["user"]
        said = f"the credentials of user {user!r}"
        hint = (
            f"check the user and password given for {store}: the role {user!r} must exist, "
            "be allowed to log in from this host, and have that password"
        )
    else:
        said = f"the database name {refused['dbname']!r} (no such database)"
        hint = f"check the database name given for {store}, or create that database"
    return StoreUnavailableError(
        store,
        operation,
        cause,
        code="database_unavailable",
        refused=said,
        hint=hint,
        facts=refused,
    )
