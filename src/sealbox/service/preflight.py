"""Checks of the data folder before the service serves: nothing is recreated or exposed silently.

- **The database.** A data folder that holds keys (``master.key``, the signing keyset)
  but whose SQLite database is missing or unreadable is refused: creating an empty
  database there would silently drop every account and transit key. Starting over is
  a deliberate act — move the folder away.
- **The master key** must open the signing keyset: a wrong one (another folder's, a
  damaged copy) is refused before the server starts, and a keyset without its master key
  (code ``master_key_lost``) before a new master key is made beside it.
- **The data folder must be writable** (code ``data_dir_read_only``): a read-only mount
  is one error with a hint, not the system's words at the first lock.
- **File modes.** The data folder and its ``tls/`` folder may not be open to other
  users (nor writable by the group), and every secret-bearing file — the master key,
  the signing keyset, the TLS and CA keys, the database and its journal files, the
  audit log — may be read or written by its owner only, or is refused with the ``chmod``
  to run; a shared folder (``/tmp``), or one of other files, is sent to a folder of its
  own (code ``data_dir_shared``; :mod:`sealbox.service.folder_modes`). sealbox does not
  tighten modes itself: a file that was readable by others may already have been read,
  and an operator should know that.
- **Owners.** The data folder, its ``tls/`` folder and those files must belong to the
  user the service runs as (code ``data_dir_owner``): run as another user (``sudo``, a
  container's root), the service would make files there that their owner can no longer
  read or replace (the SQLite journal, a renewed certificate), and root would serve
  another user's keys.
- **The audit log** must open for appending: the service refuses requests whose record
  cannot be written, so it does not start without one.
- **Redis**, when configured, must answer a ``PING``: every request checks revocations
  there, so the service does not start without it. Its ``maxmemory-policy`` must be
  ``noeviction`` (code ``redis_evicts``), unless ``redis_allow_eviction`` accepts it with a
  warning: any other policy may delete revocations and throttle counters under memory
  pressure. A Redis that does not tell its policy is said in a warning, not refused.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from sealbox.exceptions import ConfigError, DecryptionError, StorageError
from sealbox.service.audit import AuditLog
from sealbox.service.folder_modes import START_OVER, check_modes
from sealbox.service.provision import DataDir
from sealbox.service.settings import ServiceSettings
from sealbox.storage import os_reason

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from sealbox.jwt import SigningKeyInfo

__all__ = [
    "SQLITE_MAGIC",
    "acheck_keyset_present",
    "check_audit_log",
    "check_database",
    "check_keys",
    "check_keyset_present",
    "check_master_key_present",
    "check_modes",
    "check_primary_key",
    "check_redis",
    "check_writable",
    "outside_data_dir",
]

SQLITE_MAGIC: Final = b"SQLite format 3\x00"

log = logging.getLogger("sealbox.service")
KEY_FILES: Final = ("master.key", "jwt-keyset.sealed")


def check_database(settings: ServiceSettings) -> None:
    """Refuse a data folder that holds keys but lost (or cannot read) its SQLite database."""
    if settings.database_url is not None:
        return
    data = Path(settings.data_dir)
    has_keys = any((data / name).exists() for name in KEY_FILES)
    database = data / "sealbox.db"
    if not database.exists():
        if has_keys:
            raise ConfigError(
                f"the data folder holds keys but its database {database} is missing",
                hint=START_OVER,
                code="database_lost",
                facts={"database": str(database)},
            )
        return
    # Never opened here but through SQLite: this process may hold the database open
    # (a service calling the administration functions), and closing any other descriptor
    # of the file drops the POSIX locks SQLite holds on it for the whole process. The next
    # process to close its connection then takes itself for the last one and deletes the
    # WAL under the service, which goes on with a database of its own.
    try:
        info = database.stat()
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
        if not os.access(database, os.R_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        size = info.st_size
    except OSError as exc:
        raise ConfigError(
            f"cannot read the database {database}: {os_reason(exc)}",
            hint="check its owner and mode (the service's user must read and write it)",
        ) from None
    if not size and has_keys:
        # The database is made whole before the keys (DataDir.provision): keys beside an
        # empty file are a database that was emptied, not a first start that stopped.
        raise ConfigError(
            f"the data folder holds keys but its database {database} is empty",
            hint=START_OVER,
            code="database_lost",
            facts={"database": str(database)},
        )
    if size and not _opens_as_sqlite(database):
        raise ConfigError(f"{database} is not an SQLite database", hint=START_OVER)


def _opens_as_sqlite(database: Path) -> bool:
    """Whether SQLite takes ``database`` for a database (its header), read-only.

    SQLite shares one set of locks among its connections to a file in a process, and
    closes its descriptors only when none is held: this look cannot drop another's locks.
    Only "file is not a database" says no; any other failure (busy) is left to the
    migrations to meet and report.
    """
    import sqlite3

    try:
        connection = sqlite3.connect(f"{database.absolute().as_uri()}?mode=ro", uri=True)
        try:
            connection.execute("PRAGMA schema_version")
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        return exc.sqlite_errorcode != sqlite3.SQLITE_NOTADB
    return True


def check_master_key_present(settings: ServiceSettings) -> None:
    """Refuse a data folder whose signing keyset lost its master key.

    The keyset is made after the master key (:meth:`DataDir.provision`): a keyset alone
    is a master key that was deleted or left out of a restore. Making a new one would
    seal nothing that is there; it would only stand in the way of the restored one.

    Raises:
        ConfigError: code ``master_key_lost``.
    """
    data = DataDir(settings.data_dir)
    if data.keyset_file.exists() and not data.master_key_file.exists():
        raise ConfigError(
            f"the data folder holds a signing keyset but its master key "
            f"{data.master_key_file} is missing",
            hint="restore it from a backup (with the keyset and database it sealed); to "
            "start over on purpose, move the data folder away (its keys, accounts and "
            "transit keys go with it)",
            code="master_key_lost",
            facts={"master_key": str(data.master_key_file)},
        )


# Tables whose rows rest on the signing keyset: accounts and the tokens issued to them,
# and registered clients (their client-credentials tokens).
_ISSUED_TO: Final = {
    "users": "accounts",
    "refresh_tokens": "refresh tokens",
    "oauth_clients": "registered clients",
}


def check_keyset_present(settings: ServiceSettings, *, new_keyset: bool = False) -> None:
    """Refuse a data folder whose signing keyset is gone while its database holds
    accounts, refresh token families or clients.

    A new keyset would be made in its place without a word, and every access token
    issued so far would stop verifying: a keyset left out of a restore, or deleted,
    must be restored, or replaced on purpose (``new_keyset``). A fresh folder (no
    master key yet), or a database with nothing issued, gets its keyset made silently.
    Call it once the database is reachable (PostgreSQL migrated, or SQLite checked by
    :func:`check_database`); an SQLite file that is not there yet is not made.

    Raises:
        ConfigError: code ``keyset_lost``.

    .. versionadded:: 0.1.0
    """
    data = DataDir(settings.data_dir)
    if new_keyset or data.keyset_file.exists() or not data.master_key_file.exists():
        return
    if settings.database_url is None:
        database = data.path / "sealbox.db"
        if not database.is_file() or not database.stat().st_size:
            return
    found = asyncio.run(_holds_issued(settings.resolved_database_url()))
    if found:
        raise _keyset_lost(data, found, "prepare()")


async def acheck_keyset_present(
    data_dir: str | os.PathLike[str], engine: AsyncEngine, *, new_keyset: bool = False
) -> None:
    """:func:`check_keyset_present` for an app's own start-up, on its (migrated) engine:
    what :meth:`DataDir.aprovision <sealbox.service.provision.DataDir.aprovision>` runs
    when given ``engine``.

    Raises:
        ConfigError: code ``keyset_lost``.

    .. versionadded:: 0.1.0
    """
    data = DataDir(data_dir)
    if new_keyset or data.keyset_file.exists() or not data.master_key_file.exists():
        return
    found = await _issued_in(engine)
    if found:
        raise _keyset_lost(data, found, "aprovision()")


def _keyset_lost(data: DataDir, found: list[str], call: str) -> ConfigError:
    return ConfigError(
        f"the data folder's signing keyset {data.keyset_file} is missing, and its "
        f"database holds {' and '.join(found)}: a new keyset would make every token "
        "issued so far invalid",
        hint="restore jwt-keyset.sealed from a backup (it is sealed under this "
        "master.key); to start a new signing keyset on purpose, ending every session, "
        f"pass new_keyset=True to {call}",
        code="keyset_lost",
        facts={"keyset": str(data.keyset_file)},
    )


async def _holds_issued(url: str) -> list[str]:
    """What the tables of :data:`_ISSUED_TO` that hold a row hold (a missing table, none)."""
    from sealbox.service.db import make_engine

    engine = make_engine(url)
    try:
        return await _issued_in(engine)
    finally:
        await engine.dispose()


async def _issued_in(engine: AsyncEngine) -> list[str]:
    from sqlalchemy import inspect, text

    async with engine.connect() as conn:

        def look(sync: Any) -> list[str]:
            there = set(inspect(sync).get_table_names())
            return [
                what
                for name, what in _ISSUED_TO.items()
                if name in there
                # The names are this module's constants, not input.
                and sync.execute(text(f"SELECT 1 FROM {name} LIMIT 1")).first()  # noqa: S608
            ]

        return await conn.run_sync(look)


def check_writable(settings: ServiceSettings) -> None:
    """Refuse a data folder (or, for one not made yet, the folder it goes in) that this
    user cannot write: a read-only mount, a folder of mode 0500.

    The service writes its locks there first, its database and audit log next: each
    would otherwise fail with the system's words alone.

    Raises:
        ConfigError: code ``data_dir_read_only``.
    """
    data = Path(settings.data_dir)
    where = data.absolute()
    while not where.exists() and where != where.parent:
        where = where.parent
    if not where.is_dir() or os.access(where, os.W_OK):
        return  # a file where the folder goes is refused by the check of kinds
    read_only = bool(os.statvfs(where).f_flag & os.ST_RDONLY) if hasattr(os, "statvfs") else False
    why = "is on a read-only file system" if read_only else "is not writable by this user"
    shown = data if where == data.absolute() else where
    raise ConfigError(
        f"the data folder {data} cannot be written: {shown} {why}",
        hint="the service writes its database, audit log and locks there: "
        + ("mount it read-write" if read_only else "let the user the service runs as write it")
        + ", or set SEALBOX_DATA_DIR to a writable folder",
        code="data_dir_read_only",
        facts={"path": str(shown)},
    )


def check_keys(data: DataDir) -> None:
    """Refuse a master key that does not open the signing keyset, and a keyset whose
    primary key is an HMAC key (made before the service's keyset refused one).

    A wrong master key (another folder's, a damaged copy) would otherwise be found by
    each worker as it starts, in the server's own traceback. The service verifies access
    tokens with public keys only: an HMAC primary key would sign every token it issues,
    and each would be refused (401) at once.

    Raises:
        ConfigError: the master key is malformed, or code ``master_key_mismatch``, or
            code ``service_key_symmetric`` (facts ``key_id``, ``algorithm``, ``folder``).
    """
    try:
        primary = data.load_keyset().primary
    except DecryptionError:
        raise ConfigError(
            f"the master key {data.master_key_file} does not open the signing keyset "
            f"{data.keyset_file}: another folder's key, or either file was altered",
            hint="restore master.key and jwt-keyset.sealed from the same backup: "
            "everything the folder seals needs the key it was sealed with",
            code="master_key_mismatch",
            facts={"master_key": str(data.master_key_file), "keyset": str(data.keyset_file)},
        ) from None
    check_primary_key(data, primary)


def check_primary_key(data: DataDir, primary: SigningKeyInfo) -> None:
    """Refuse a signing keyset whose primary key is an HMAC key: what :func:`check_keys`
    says before the start, and what :meth:`Runtime.open
    <sealbox.service.runtime.Runtime.open>` says when an app is served without it.

    Raises:
        ConfigError: code ``service_key_symmetric`` (facts ``key_id``, ``algorithm``,
            ``folder``).
    """
    from sealbox.jwt.defaults import is_hmac  # loaded with the keyset: see DataDir.load_keyset

    if is_hmac(primary.alg):
        kid, alg = primary.kid, primary.alg  # "failed": the check, for the CLI's hint
        raise ConfigError(
            f"the primary key {kid} of the signing keyset {data.keyset_file} is an HMAC key "
            f"({alg}): the service refuses every token it signs (401 after each sign-in)",
            hint="make a public-key key (EdDSA) primary with a rotation, then destroy the "
            "HMAC key: a shared secret no relying party can verify with",
            code="service_key_symmetric",
            facts={"key_id": kid, "algorithm": alg, "folder": str(data.path), "failed": "primary"},
        )


def check_audit_log(settings: ServiceSettings) -> None:
    """Refuse to start with an audit log that cannot be opened for appending.

    An audit log that is not there yet is not made, nor its missing folders: the
    nearest folder that exists must let this user make them (the service does, as it
    starts). A start refused for any reason leaves nothing behind in the operator's
    folders.

    .. versionchanged:: 0.1.0
       A missing audit log is no longer created by the check.
    """
    path = settings.resolved_audit_log()
    try:
        if path.exists():
            AuditLog(path).close()
            return
        where = path.parent.absolute()
        while not where.exists() and where != where.parent:
            where = where.parent
        if not where.is_dir():
            problem = f"{where} is a file, not a folder"
        elif os.access(where, os.W_OK | os.X_OK):
            return
        elif hasattr(os, "statvfs") and os.statvfs(where).f_flag & os.ST_RDONLY:
            problem = f"{where} is on a read-only file system"
        else:
            problem = f"{where} is not writable by this user"
    except OSError as exc:
        problem = os_reason(exc)
    except StorageError as exc:
        raise ConfigError(str(exc), hint=_AUDIT_HINT) from None
    raise ConfigError(f"cannot open the audit log {path}: {problem}", hint=_AUDIT_HINT)


_AUDIT_HINT: Final = "the service refuses requests it cannot audit; fix the path or mode"


def outside_data_dir(settings: ServiceSettings, path: Path) -> bool:
    """Whether ``path`` lies outside the data folder (a given audit log, a given key)."""
    return not path.absolute().is_relative_to(Path(settings.data_dir).absolute())


def check_listen(settings: ServiceSettings) -> int:
    """Refuse to start when the service's address cannot be listened on; return the port.

    uvicorn binds it after the service has said where it runs, and on failure logs one
    line of its own and exits 3; this finds the same failure first, as one error. For
    port 0 the port returned is one the system chose, for the caller to serve on (and
    name) instead; it is left held (:func:`_hold_for_server`) so that the system does
    not hand it to another program asking for any free port before uvicorn binds it.

    Raises:
        ConfigError: code ``address_unavailable`` (in use, not this machine's, a name
            that does not resolve, a port that needs privileges).
    """
    where = f"{settings.host}:{settings.port}"
    try:
        found = socket.getaddrinfo(settings.host, settings.port, type=socket.SOCK_STREAM)
        family, kind, proto, _, address = found[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            probe.bind(address)
            port = int(probe.getsockname()[1])
            if settings.port == 0:
                _hold_for_server(probe)
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {where}: {os_reason(exc)}",
            hint=_listen_hint(exc),
            code="address_unavailable",
            facts={"address": where},
        ) from None
    return port


def _listen_hint(exc: OSError) -> str:
    """What helps with the error of binding the service's address."""
    if exc.errno in (errno.EACCES, errno.EPERM):
        # Ports below 1024 (net.ipv4.ip_unprivileged_port_start on Linux) are root's.
        return (
            "the port needs privileges this user lacks: choose a port of 1024 or more "
            "(with a reverse proxy on 443 in front, if clients need that port), or give "
            "the service the CAP_NET_BIND_SERVICE capability"
        )
    return "choose another port or host, or stop what listens there"


def _hold_for_server(probe: socket.socket) -> None:
    """Leave ``probe``'s port in TIME_WAIT after ``probe`` closes (best effort).

    One connection to it, closed first on the listening side, does it: for about a
    minute the system gives the port to no one asking for any free port (bind to port 0,
    an outgoing connection's local port), while a server that sets ``SO_REUSEADDR``,
    as uvicorn does, binds it at once. Without this, the port chosen for ``--port 0``
    was free for anyone between this check and uvicorn's bind.
    """
    try:
        probe.listen(1)
        with socket.socket(probe.family, socket.SOCK_STREAM) as client:
            client.settimeout(1)
            client.connect(probe.getsockname())
            accepted, _ = probe.accept()
            accepted.close()  # the listening side closes first: its end waits
    except OSError:
        return  # the port is still the one chosen; only the hold is lost


def check_redis(settings: ServiceSettings) -> None:
    """Refuse to start when the configured Redis does not answer a ``PING`` (5 s).

    Every request checks revocations there: a service started without it would refuse
    them all (503), and a worker whose revocation lists are not empty could not load
    them. Nothing to check without ``SEALBOX_REDIS_URL``.

    Raises:
        StoreUnavailableError: Redis did not answer.
    """
    if settings.redis_url is None:
        return
    from sealbox.accounts.redis_client import KEEPING_POLICY, eviction_policy, ping

    url = settings.redis_url.expose_secret()
    asyncio.run(ping(url, "starting the service"))
    policy = asyncio.run(eviction_policy(url))
    if policy is None:
        log.warning(
            "could not read Redis's maxmemory-policy (CONFIG GET and INFO were refused): "
            "make sure it is %s, or Redis may evict revocations under memory pressure "
            "and let revoked tokens pass again",
            KEEPING_POLICY,
        )
        return
    if policy == KEEPING_POLICY:
        return
    said = (
        f"Redis's maxmemory-policy is {policy}: under memory pressure it may evict "
        "sealbox's keys (they all have an expiry), and an evicted revocation lets a "
        "revoked token pass again, an evicted throttle counter forgets failed sign-ins"
    )
    if settings.redis_allow_eviction:
        log.warning("%s (accepted by SEALBOX_REDIS_ALLOW_EVICTION)", said)
        return
    raise ConfigError(
        said,
        hint=(
            f"set maxmemory-policy {KEEPING_POLICY} on that Redis (or give sealbox a Redis "
            "of its own), or set SEALBOX_REDIS_ALLOW_EVICTION=true to accept the risk"
        ),
        code="redis_evicts",
        facts={"policy": policy},
    )
