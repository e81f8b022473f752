"""The KV version 2 engine: versioned secrets, sealed at rest, with Vault's rules.

A secret is one path of one mount. Each write adds a version (1, 2, …); a read gives
the newest version, or the one asked for. The rules are Vault's KV v2:

- **check-and-set**: a write may carry ``cas``: 0 writes only if the secret has no
  version yet, ``N`` only if ``N`` is the newest version; a secret (or the engine) with
  ``cas_required`` refuses a write without it;
- **soft delete**: a deleted version keeps its value but reads as deleted until it is
  undeleted; **destroy** removes the value for good;
- **max_versions** (per secret, 10 when 0): a write that makes more versions than that
  removes the oldest;
- **delete_version_after** (per secret, 0 for never): a version is written with a
  deletion time that far ahead, and reads as deleted once it has passed (undelete
  clears it, as a soft delete's);
- metadata (``custom_metadata``, ``max_versions``, ``cas_required``,
  ``delete_version_after``) may be written before any version (a write that names
  none of them makes no metadata, as in Vault); deleting the metadata deletes every
  version.

Values are JSON objects, sealed one version at a time under the service's master key
(:class:`~sealbox.keysets.key_sealer.KeySealer`, AES-256-GCM) with the mount, the path
and the version bound to the ciphertext, so a row copied to another secret or version
does not open. Nothing here logs a value.

Writes are serialised by the database, never by a worker: a new version moves
``current_version`` from the one the write saw with a conditional ``UPDATE`` (and
inserts the row ``(secret, version)``, a primary key), so two workers that write at
once make two versions, and a check-and-set write loses to the other cleanly.

No FastAPI here: :mod:`sealbox.service.vault.kv_routes` is the HTTP side.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import and_, bindparam, delete, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sealbox.keysets.key_sealer import KeySealer
from sealbox.service.db import now
from sealbox.service.vault.durations import go_duration
from sealbox.service.vault.kv_records import (
    DEFAULT_MAX_VERSIONS,
    MAX_SECRET_VERSION,
    CheckAndSetError,
    InvalidPathError,
    InvalidValueError,
    KVError,
    KVSecretRecord,
    KVVersionRecord,
    SecretNotFoundError,
    WriteConflictError,
    check_path,
)

__all__ = [
    "DEFAULT_MAX_VERSIONS",
    "MAX_SECRET_VERSION",
    "CheckAndSetError",
    "InvalidPathError",
    "InvalidValueError",
    "KVError",
    "KVSecretRecord",
    "KVStore",
    "KVVersionRecord",
    "SecretNotFoundError",
    "SecretVersion",
    "WriteConflictError",
    "check_path",
]

VALUE_FORMAT: Final = "sealbox-kv-v2/1"
_WRITE_ATTEMPTS: Final = 16


def _plain(data: Mapping[str, Any]) -> bytes:
    """``data`` as the JSON that is sealed: no NaN or infinity (``1e400`` parses as one),
    which no JSON answer can carry, and valid Unicode.

    Raises:
        InvalidValueError: it is not.
    """
    try:
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return text.encode()
    except (ValueError, TypeError, RecursionError):  # UnicodeEncodeError is a ValueError
        raise InvalidValueError(
            "the data must be JSON with finite numbers and valid Unicode"
        ) from None


def _time(when: datetime | None) -> str:
    """Vault's timestamps (RFC 3339 with microseconds); ``""`` for none."""
    return "" if when is None else when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True, repr=False)
class SecretVersion:
    """One version as a read answers it: its metadata, and its data unless deleted."""

    data: dict[str, Any] | None
    metadata: dict[str, Any]

    def __repr__(self) -> str:
        return f"SecretVersion(version={self.metadata.get('version')})"


def _version_metadata(
    row: KVVersionRecord | Row[Any], custom: Mapping[str, str] | None = None
) -> dict[str, Any]:
    return {
        "created_time": _time(row.created_at),
        "custom_metadata": dict(custom) if custom else None,
        "deletion_time": _time(row.deleted_at),
        "destroyed": row.destroyed,
        "version": row.version,
    }


def _read_query(version: Any) -> Any:
    """The columns a read answers with, of the version ``version`` selects."""
    return (
        select(
            KVSecretRecord.custom_metadata,
            KVVersionRecord.version,
            KVVersionRecord.created_at,
            KVVersionRecord.deleted_at,
            KVVersionRecord.destroyed,
            KVVersionRecord.value,
        )
        .join(
            KVVersionRecord,
            and_(
                KVVersionRecord.secret_id == KVSecretRecord.id, KVVersionRecord.version == version
            ),
        )
        .where(KVSecretRecord.mount == bindparam("mount"), KVSecretRecord.path == bindparam("path"))
    )


# Built once: composing a statement costs more than SQLite takes to run it.
_READ_CURRENT: Final = _read_query(KVSecretRecord.current_version)
_READ_VERSION: Final = _read_query(bindparam("version"))


class _LostRaceError(Exception):
    """Another writer moved ``current_version`` first."""


class KVStore:
    """Read and write KV v2 secrets in the service's database.

    Args:
        sessions: the service's session factory.
        master_key: the 32-byte master key that seals the values.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], master_key: bytes) -> None:
        self._sessions = sessions
        # A read needs no ORM session: a plain connection skips its bookkeeping.
        self._engine: AsyncEngine = sessions.kw["bind"]
        self._master_key = master_key

    def __repr__(self) -> str:
        return "KVStore()"

    # -- sealing ----------------------------------------------------------------------

    def _sealer(self, mount: str, path: str, version: int) -> KeySealer:
        # The document's format name is its associated data: binding the place and the
        # version there means a sealed value opens only where it was written.
        return KeySealer(
            self._master_key,
            f"{VALUE_FORMAT}:{mount}:{version}:{path}",
            what="KV secret",
            key_name="master key",
        )

    def _seal(self, mount: str, path: str, version: int, plain: bytes) -> bytes:
        return self._sealer(mount, path, version).seal(plain)

    def _open(self, mount: str, path: str, version: int, sealed: bytes) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self._sealer(mount, path, version).open(sealed))
        return value

    # -- reads ------------------------------------------------------------------------

    @staticmethod
    async def _secret(session: AsyncSession, mount: str, path: str) -> KVSecretRecord | None:
        found: KVSecretRecord | None = (
            await session.execute(
                select(KVSecretRecord).where(
                    KVSecretRecord.mount == mount, KVSecretRecord.path == path
                )
            )
        ).scalar_one_or_none()
        return found

    async def read(self, mount: str, path: str, version: int = 0) -> SecretVersion:
        """The newest version of a secret (or ``version``), with its metadata.

        Raises:
            SecretNotFoundError: the secret or the version does not exist, or (with the
                version's ``metadata``) the version is deleted or destroyed.
        """
        # One query, built once: the secret's metadata joined with the version asked for.
        params: dict[str, Any] = {"mount": mount, "path": path}
        query = _READ_CURRENT
        if version:
            query, params["version"] = _READ_VERSION, version
        async with self._engine.connect() as connection:
            row = (await connection.execute(query, params)).first()
        if row is None:
            raise SecretNotFoundError
        meta = _version_metadata(row, row.custom_metadata)
        # A deletion time still to come (delete_version_after) is not a deletion yet.
        deleted = row.deleted_at is not None and row.deleted_at <= now()
        if deleted or row.destroyed or row.value is None:
            raise SecretNotFoundError("the version is deleted", metadata=meta)
        return SecretVersion(self._open(mount, path, row.version, row.value), meta)

    async def metadata(self, mount: str, path: str) -> dict[str, Any]:
        """A secret's metadata and every version's (Vault's ``metadata`` answer).

        Raises:
            SecretNotFoundError: there is no such secret.
        """
        async with self._sessions() as session:
            secret = await self._secret(session, mount, path)
            if secret is None:
                raise SecretNotFoundError
            rows = (
                await session.execute(
                    select(KVVersionRecord)
                    .where(KVVersionRecord.secret_id == secret.id)
                    .order_by(KVVersionRecord.version)
                )
            ).scalars()
            versions = {
                str(row.version): {
                    "created_time": _time(row.created_at),
                    "deletion_time": _time(row.deleted_at),
                    "destroyed": row.destroyed,
                }
                for row in rows
            }
        return {
            "cas_required": secret.cas_required,
            "created_time": _time(secret.created_at),
            "current_version": secret.current_version,
            "custom_metadata": secret.custom_metadata or None,
            "delete_version_after": go_duration(secret.delete_version_after),
            "max_versions": secret.max_versions,
            "oldest_version": secret.oldest_version,
            "updated_time": _time(secret.updated_at),
            "versions": versions,
        }

    async def list_folder(self, mount: str, folder: str) -> list[str]:
        """The names right under ``folder`` (``""``: the mount's top): secrets, and
        folders ending in ``/``, sorted.

        Raises:
            SecretNotFoundError: there is nothing there.
        """
        prefix = folder.strip("/")
        prefix = f"{prefix}/" if prefix else ""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        async with self._sessions() as session:
            paths = (
                await session.execute(
                    select(KVSecretRecord.path).where(
                        KVSecretRecord.mount == mount,
                        KVSecretRecord.path.like(f"{escaped}%", escape="\\"),
                    )
                )
            ).scalars()
            names = set()
            for full in paths:
                # LIKE cuts first; SQLite's ignores case (ALICE/x is not under alice/).
                if not full.startswith(prefix):
                    continue
                rest = full[len(prefix) :]
                head, slash, _ = rest.partition("/")
                names.add(head + slash)
        if not names:
            raise SecretNotFoundError
        return sorted(names)

    # -- writes -----------------------------------------------------------------------

    async def write(
        self,
        mount: str,
        path: str,
        data: Mapping[str, Any],
        *,
        cas: int | None = None,
        cas_required: bool = False,
    ) -> dict[str, Any]:
        """Add a version holding ``data``; return its metadata.

        Args:
            mount, path: where.
            data: the secret's keys and values (any JSON values).
            cas: check-and-set: 0, only if the secret has no version; ``N``, only if
                ``N`` is its newest version.
            cas_required: the engine requires ``cas`` on every write.

        Raises:
            InvalidValueError: ``data`` has a number JSON cannot carry (NaN, infinity).
            CheckAndSetError: the check-and-set fails, or is required and missing.
            WriteConflictError: other writers kept winning.
        """
        plain = _plain(data)
        for _ in range(_WRITE_ATTEMPTS):
            async with self._sessions() as session:
                secret = await self._secret(session, mount, path)
                seen = None if secret is None else (secret.id, secret.current_version)
                required = cas_required or (secret is not None and secret.cas_required)
                keep = (secret.max_versions if secret is not None else 0) or DEFAULT_MAX_VERSIONS
                lifetime = 0 if secret is None else secret.delete_version_after
                custom = None if secret is None else secret.custom_metadata
            if cas is None and required:
                raise CheckAndSetError("check-and-set parameter required for this call")
            current = 0 if seen is None else seen[1]
            if cas is not None and cas != current:
                raise CheckAndSetError("check-and-set parameter did not match the current version")
            try:
                row = await self._add_version(mount, path, seen, plain, keep, lifetime=lifetime)
            except (IntegrityError, _LostRaceError):
                continue  # another writer won: look again (a cas write then fails above)
            return _version_metadata(row, custom)
        raise WriteConflictError("the secret is being written concurrently; retry")

    async def _add_version(
        self,
        mount: str,
        path: str,
        seen: tuple[int, int] | None,
        plain: bytes,
        keep: int,
        *,
        lifetime: int = 0,
    ) -> KVVersionRecord:
        at = now()
        async with self._sessions.begin() as session:
            if seen is None:
                # The first statement writes, so SQLite takes its write lock at once.
                secret = KVSecretRecord(
                    mount=mount,
                    path=path,
                    current_version=1,
                    oldest_version=1,
                    created_at=at,
                    updated_at=at,
                )
                session.add(secret)
                await session.flush()
                secret_id, version = secret.id, 1
            else:
                secret_id, current = seen
                version = current + 1
                moved = await session.execute(
                    update(KVSecretRecord)
                    .where(
                        KVSecretRecord.id == secret_id,
                        KVSecretRecord.current_version == current,
                    )
                    .values(current_version=version, updated_at=at)
                )
                if (getattr(moved, "rowcount", 0) or 0) != 1:
                    raise _LostRaceError
            row = KVVersionRecord(
                secret_id=secret_id,
                version=version,
                created_at=at,
                # Vault's delete_version_after: the version is written with its deletion time.
                deleted_at=at + timedelta(seconds=lifetime) if lifetime else None,
                value=self._seal(mount, path, version, plain),
            )
            session.add(row)
            await session.flush()
            oldest = max(1, version - keep + 1)
            await session.execute(
                delete(KVVersionRecord).where(
                    KVVersionRecord.secret_id == secret_id, KVVersionRecord.version < oldest
                )
            )
            await session.execute(
                update(KVSecretRecord)
                .where(KVSecretRecord.id == secret_id, KVSecretRecord.oldest_version < oldest)
                .values(oldest_version=oldest)
            )
        return row

    async def write_metadata(
        self,
        mount: str,
        path: str,
        *,
        max_versions: int | None = None,
        cas_required: bool | None = None,
        custom_metadata: Mapping[str, str] | None = None,
        delete_version_after: int | None = None,
    ) -> None:
        """Change a secret's settings (``None`` keeps one); creates the secret's metadata
        when it changes one. A write that changes none makes and changes nothing, as in
        Vault (its metadata write returns before reading the secret when no setting is
        given).

        As in Vault, ``updated_time`` is the time of the newest version's writing: a
        metadata write leaves it as it is (the metadata's creation sets it, with
        ``created_time``).

        ``delete_version_after`` (seconds, 0: never) gives each version written from now
        on a deletion time that many seconds after its writing; versions already
        written keep theirs, as in Vault.
        """
        changes: dict[str, Any] = {}
        if delete_version_after is not None:
            changes["delete_version_after"] = delete_version_after
        if max_versions is not None:
            changes["max_versions"] = max_versions
        if cas_required is not None:
            changes["cas_required"] = cas_required
        if custom_metadata is not None:
            changes["custom_metadata"] = dict(custom_metadata)
        if not changes:
            return
        for _ in range(_WRITE_ATTEMPTS):
            at = now()
            async with self._sessions.begin() as session:
                moved = await session.execute(
                    update(KVSecretRecord)
                    .where(KVSecretRecord.mount == mount, KVSecretRecord.path == path)
                    .values(**changes)
                )
                if (getattr(moved, "rowcount", 0) or 0) == 1:
                    return
            try:
                async with self._sessions.begin() as session:
                    session.add(
                        KVSecretRecord(mount=mount, path=path, created_at=at, updated_at=at)
                    )
                    await session.flush()
                    await session.execute(
                        update(KVSecretRecord)
                        .where(KVSecretRecord.mount == mount, KVSecretRecord.path == path)
                        .values(**changes)
                    )
            except IntegrityError:
                continue  # made at the same time by another writer: update it
            return
        raise WriteConflictError("the secret is being written concurrently; retry")

    async def delete_latest(self, mount: str, path: str) -> None:
        """Soft-delete the newest version (nothing to do when there is none)."""
        async with self._sessions() as session:
            secret = await self._secret(session, mount, path)
        if secret is not None and secret.current_version:
            await self._mark(secret.id, [secret.current_version], deleted=True)

    async def delete_versions(self, mount: str, path: str, versions: Iterable[int]) -> None:
        """Soft-delete ``versions`` (their values stay, for :meth:`undelete`)."""
        await self._change(mount, path, versions, deleted=True)

    async def undelete(self, mount: str, path: str, versions: Iterable[int]) -> None:
        """Undo the soft deletion of ``versions`` (destroyed ones stay destroyed)."""
        await self._change(mount, path, versions, deleted=False)

    async def destroy(self, mount: str, path: str, versions: Iterable[int]) -> None:
        """Remove the values of ``versions`` for good."""
        await self._change(mount, path, versions, destroyed=True)

    async def delete_all(self, mount: str, path: str) -> None:
        """Delete a secret's metadata and every version."""
        async with self._sessions.begin() as session:
            secret = await self._secret(session, mount, path)
            if secret is None:
                return
            await session.execute(
                delete(KVVersionRecord).where(KVVersionRecord.secret_id == secret.id)
            )
            await session.execute(delete(KVSecretRecord).where(KVSecretRecord.id == secret.id))

    async def _change(
        self,
        mount: str,
        path: str,
        versions: Iterable[int],
        *,
        deleted: bool | None = None,
        destroyed: bool = False,
    ) -> None:
        wanted = sorted(set(versions))
        async with self._sessions() as session:
            secret = await self._secret(session, mount, path)
        if secret is None or not wanted:
            return
        await self._mark(secret.id, wanted, deleted=deleted, destroyed=destroyed)

    async def _mark(
        self,
        secret_id: int,
        versions: list[int],
        *,
        deleted: bool | None = None,
        destroyed: bool = False,
    ) -> None:
        values: dict[str, Any]
        if destroyed:
            values = {"destroyed": True, "value": None}
        elif deleted:
            values = {"deleted_at": now()}
        else:
            values = {"deleted_at": None}
        query = update(KVVersionRecord).where(
            KVVersionRecord.secret_id == secret_id,
            KVVersionRecord.version.in_(versions),
            KVVersionRecord.destroyed.is_(False),
        )
        if deleted:
            # A second delete keeps the first deletion time, as Vault does; one still to
            # come (delete_version_after) is brought forward to now.
            query = query.where(
                or_(KVVersionRecord.deleted_at.is_(None), KVVersionRecord.deleted_at > now())
            )
        async with self._sessions.begin() as session:
            await session.execute(query.values(**values))
