"""Transit keys in the database, cached per worker, with changes announced to every worker.

The database is the record: ``transit_keys`` (name, type, configuration) and
``transit_key_versions`` (one row per version, material sealed under the master
key). Each worker keeps the keys it uses as ready-to-use snapshots
(:class:`~sealbox.transit.keys.TransitKey`), so an operation costs no
database access and no unsealing. A snapshot is dropped when:

- this worker changes the key (create, rotate, configure, delete);
- another worker announces a change: with Redis, every change is published on
  the channel ``<SEALBOX_REDIS_PREFIX>transit:keys`` and every worker's subscriber drops that
  key at once (after a lost subscription, it drops them all);
- an input names a version newer than the snapshot knows (a rotation made
  elsewhere): the key is read again before the input is refused, so clients
  that encrypt through one worker and decrypt through another never fail (once
  per request: a batch naming many newer versions reads it once);
- it is older than ``ttl`` seconds: the bound on staleness when no
  announcement can arrive (several hosts without Redis, a Redis outage).

Changes are serialised by the database: a rotation inserts version ``N+1``
(primary key ``(key_id, version)``) and moves ``latest_version`` from ``N`` with a
conditional ``UPDATE``; two concurrent rotations cannot make the same version.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sealbox.accounts.redis_client import SOCKET_TIMEOUT, connect
from sealbox.exceptions import KeyNotFoundError
from sealbox.service.db import TransitKeyRecord, TransitKeyVersionRecord, now
from sealbox.transit.errors import (
    ConcurrentRotationError,
    DeletionNotAllowedError,
    InvalidKeyVersionError,
    InvalidRequestError,
    KeyExistsError,
    NotExportableError,
)
from sealbox.transit.keys import TransitKey, check_version_rules
from sealbox.transit.material import open_material, seal_material
from sealbox.transit.registry import REGISTRY, export_text, new_material

__all__ = ["CHANNEL_SUFFIX", "KeyEvents", "LocalKeyEvents", "RedisKeyEvents", "TransitStore"]

log = logging.getLogger("sealbox.service")

CHANNEL_SUFFIX = "transit:keys"
CHANNEL = f"sealbox:{CHANNEL_SUFFIX}"
# Rotations of one key race for its next version; a loser reads again and retries after
# a random pause that grows with each loss (up to _ROTATE_PAUSE_MAX seconds), so that a
# burst of them spreads out and each finally wins: two rotations make two versions.
_ROTATE_ATTEMPTS = 32
_ROTATE_PAUSE_MAX = 0.05


class KeyEvents(Protocol):
    """How workers tell each other that a key changed."""

    async def start(self, on_change: Callable[[str | None], None]) -> None:
        """Begin delivering changes: ``on_change(name)``, or ``on_change(None)`` for "all"."""

    async def publish(self, name: str) -> None:
        """Announce that ``name`` changed."""

    async def close(self) -> None:
        """Stop and release connections."""


class LocalKeyEvents:
    """One worker alone: nothing to announce (the snapshot TTL covers other hosts)."""

    async def start(self, on_change: Callable[[str | None], None]) -> None:
        return None

    async def publish(self, name: str) -> None:
        return None

    async def close(self) -> None:
        return None


class RedisKeyEvents:
    """Announcements over Redis publish/subscribe, shared by every worker and host."""

    #: Seconds without a word from Redis after which the subscription asks it a PING.
    #: A subscription is quiet for as long as no key changes, so its reads take no socket
    #: timeout; a PING not answered within the client's socket timeout is a lost
    #: subscription, as a closed connection is: found within ``quiet`` + that timeout.
    quiet: float = 10.0

    def __init__(self, url: str, channel: str = CHANNEL) -> None:
        # The accounts' client: its URL checks, and a bound on every answer (a Redis that
        # accepts and never answers would otherwise hold a publish, and the rotation
        # waiting on it, for good). Named, so an operator's CLIENT LIST shows which
        # deployment a subscriber serves.
        self._redis, _ = connect(url, client_name=f"{channel}-events")
        self._channel = channel
        kwargs = self._redis.connection_pool.connection_kwargs
        self._answer_within = float(kwargs.get("socket_timeout") or SOCKET_TIMEOUT)
        self._task: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()

    async def start(self, on_change: Callable[[str | None], None]) -> None:
        self._task = asyncio.create_task(self._listen(on_change), name="sealbox-transit-events")
        # Wait briefly for the subscription, so changes made right after start-up are seen.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.subscribed.wait(), 5)

    async def _listen(self, on_change: Callable[[str | None], None]) -> None:
        delay = 0.1
        lost = False  # said once per outage, not at every retry
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                # Whatever was announced while not subscribed is lost: forget everything.
                on_change(None)
                self.subscribed.set()
                delay = 0.1
                if lost:
                    lost = False
                    log.warning("transit key announcements: Redis subscription restored")
                await self._receive(pubsub, on_change)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any Redis failure: resubscribe
                self.subscribed.clear()
                on_change(None)
                log.log(
                    logging.DEBUG if lost else logging.WARNING,
                    "transit key announcements: Redis subscription lost (%s); retrying "
                    "(until it is back, a worker trusts its copy of a key for the cache TTL)",
                    type(exc).__name__,
                )
                lost = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def _receive(self, pubsub: Any, on_change: Callable[[str | None], None]) -> None:
        """Deliver announcements until the subscription is lost (raises)."""
        loop = asyncio.get_running_loop()
        heard = loop.time()  # when Redis last said anything on this connection
        asked: float | None = None  # when the PING not yet answered was sent
        while True:
            due = heard + self.quiet if asked is None else asked + self._answer_within
            # A wait of its own, not the socket timeout: an empty wait is no failure.
            message = await pubsub.get_message(timeout=max(due - loop.time(), 0.01))
            if message is not None:
                heard, asked = loop.time(), None
                if message.get("type") == "message":
                    data = message.get("data", b"")
                    on_change(data.decode("utf-8", "replace") if data else None)
            elif loop.time() < due:
                continue
            elif asked is None:
                await pubsub.ping()
                asked = loop.time()
            else:
                raise TimeoutError(f"no answer to a PING within {self._answer_within:g} s")

    async def publish(self, name: str) -> None:
        try:
            await self._redis.publish(self._channel, name)
        except Exception as exc:  # noqa: BLE001 - the change is committed; others catch up by TTL
            log.warning(
                "could not announce a change of transit key %r (%s); other workers see it "
                "within the cache TTL",
                name,
                type(exc).__name__,
            )

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._redis.aclose()


def _not_found(name: str) -> KeyNotFoundError:
    return KeyNotFoundError(f"no transit key named {name!r}", facts={"key": name})


def _slow(key_type: str) -> bool:
    entry = REGISTRY.get(key_type)
    return entry is not None and entry.slow


async def _material(key_type: str) -> bytes:
    # RSA key generation takes from 0.1 s to a second: never on the event loop.
    if _slow(key_type):
        return await asyncio.to_thread(new_material, key_type)
    return new_material(key_type)


class TransitStore:
    """Create, read, rotate, configure and delete transit keys; serve cached snapshots.

    Args:
        sessions: the service's session factory.
        master_key: the 32-byte master key that seals key material.
        events: how changes reach the other workers.
        ttl: seconds a snapshot is trusted without news (the staleness bound).
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        master_key: bytes,
        *,
        events: KeyEvents | None = None,
        ttl: float = 30.0,
    ) -> None:
        self._sessions = sessions
        self._master_key = master_key
        self.events: KeyEvents = events or LocalKeyEvents()
        self.ttl = ttl
        self._cache: dict[str, tuple[float, TransitKey]] = {}
        self._loading: dict[str, tuple[int, float, asyncio.Task[TransitKey]]] = {}
        self._epoch = 0

    def __repr__(self) -> str:
        return f"TransitStore(cached={len(self._cache)})"

    async def start(self) -> None:
        """Start receiving other workers' announcements."""
        await self.events.start(self.invalidate)

    async def close(self) -> None:
        """Stop receiving announcements and forget every snapshot."""
        await self.events.close()
        self.invalidate(None)

    # -- the cache ----------------------------------------------------------------------

    def invalidate(self, name: str | None) -> None:
        """Forget the snapshot of ``name`` (of every key when ``None``)."""
        self._epoch += 1
        if name is None:
            self._cache.clear()
        else:
            self._cache.pop(name, None)

    async def get(
        self, name: str, *, version: int = 0, fresh_since: float | None = None
    ) -> TransitKey:
        """The key's snapshot; read again when stale or when ``version`` is newer than it knows.

        Args:
            fresh_since: when the request asking arrived (``time.monotonic()``): a snapshot
                whose read began after it already shows every version made before the
                request, so a newer ``version`` does not read the key again. One request
                then reads a key at most once for its versions, however many it names.

        Raises:
            KeyNotFoundError: no such key.
        """
        entry = self._cache.get(name)
        if entry is not None:
            loaded, key = entry
            if time.monotonic() - loaded < self.ttl and (
                version <= key.latest_version or (fresh_since is not None and loaded >= fresh_since)
            ):
                return key
        # A version the snapshot lacks may have been made after a read under way began: a
        # caller naming one joins only a read begun since its request arrived (since now,
        # without the arrival).
        since = None
        if version:
            since = time.monotonic() if fresh_since is None else fresh_since
        return await self._load(name, since)

    async def _load(self, name: str, since: float | None = None) -> TransitKey:
        """Read a key once for every concurrent caller that came after the last invalidation
        (and, with ``since``, whose read began at or after ``since``).

        The read runs as its own task: a caller that goes away does not cancel it
        for the others.
        """
        epoch = self._epoch
        pending = self._loading.get(name)
        if pending is None or pending[0] != epoch or (since is not None and pending[1] < since):
            began = time.monotonic()  # at or before the read's first statement
            task = asyncio.create_task(self._read_and_cache(name, epoch, began))
            pending = (epoch, began, task)
            self._loading[name] = pending
            task.add_done_callback(lambda t: self._loaded(name, t))
        return await asyncio.shield(pending[2])

    def _loaded(self, name: str, task: asyncio.Task[TransitKey]) -> None:
        pending = self._loading.get(name)
        if pending is not None and pending[2] is task:
            del self._loading[name]
        if not task.cancelled():
            task.exception()  # retrieved: no warning when every caller went away

    async def _read_and_cache(self, name: str, epoch: int, began: float) -> TransitKey:
        # A snapshot's age counts from the start of its read.
        key = await self._read(name)
        cached = self._cache.get(name)
        # A read begun earlier that ends later does not replace a newer one's snapshot.
        if epoch == self._epoch and (cached is None or cached[0] <= began):
            self._cache[name] = (began, key)
        return key

    async def _read(self, name: str) -> TransitKey:
        async with self._sessions() as session:
            record = await self._record(session, name)
            rows = (
                await session.execute(
                    select(
                        TransitKeyVersionRecord.version,
                        TransitKeyVersionRecord.created_at,
                        TransitKeyVersionRecord.material,
                    ).where(TransitKeyVersionRecord.key_id == record.id)
                )
            ).all()
        versions = {
            version: (created, self._open(record, version, sealed))
            for version, created, sealed in rows
        }
        if _slow(record.type) and len(versions) > 1:
            # Parsing RSA private keys costs about a millisecond each.
            return await asyncio.to_thread(TransitKey.build, record, versions)
        return TransitKey.build(record, versions)

    def _open(self, record: TransitKeyRecord, version: int, sealed: bytes) -> bytes:
        return open_material(self._master_key, record.name, record.type, version, sealed)

    def _seal(self, name: str, key_type: str, version: int, material: bytes) -> bytes:
        return seal_material(self._master_key, name, key_type, version, material)

    @staticmethod
    async def _record(session: AsyncSession, name: str) -> TransitKeyRecord:
        record = (
            await session.execute(select(TransitKeyRecord).where(TransitKeyRecord.name == name))
        ).scalar_one_or_none()
        if record is None:
            raise _not_found(name)
        return record

    @classmethod
    async def _locked(cls, session: AsyncSession, name: str) -> TransitKeyRecord:
        """The key's row, held by this transaction until it ends.

        The transaction's first statement writes the row, so the read that follows sees
        the key as it is now and no other change can pass in between: PostgreSQL locks
        the row, SQLite (where ``FOR UPDATE`` means nothing) the database. A change is
        then checked against what it replaces, not against an older read.
        """
        touched = await session.execute(
            update(TransitKeyRecord).where(TransitKeyRecord.name == name).values(updated_at=now())
        )
        if (getattr(touched, "rowcount", 0) or 0) == 0:
            raise _not_found(name)
        return await cls._record(session, name)

    async def _changed(self, name: str) -> None:
        self.invalidate(name)
        await self.events.publish(name)

    # -- management ---------------------------------------------------------------------

    async def names(self) -> list[str]:
        """Every key's name, sorted."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(TransitKeyRecord.name).order_by(TransitKeyRecord.name)
            )
            return [str(n) for n in rows.scalars()]

    async def create(self, name: str, key_type: str, *, exportable: bool = False) -> TransitKey:
        """Create key ``name`` with version 1.

        Raises:
            KeyExistsError: the name is taken.
            UnknownKeyTypeError: the type is unknown.
        """
        material = await _material(key_type)
        at = now()
        record = TransitKeyRecord(
            name=name,
            type=key_type,
            latest_version=1,
            min_decryption_version=1,
            min_encryption_version=0,
            deletion_allowed=False,
            exportable=exportable,
            created_at=at,
            updated_at=at,
        )
        try:
            async with self._sessions.begin() as session:
                session.add(record)
                await session.flush()
                session.add(
                    TransitKeyVersionRecord(
                        key_id=record.id,
                        version=1,
                        created_at=at,
                        material=self._seal(name, key_type, 1, material),
                    )
                )
        except IntegrityError:
            raise KeyExistsError(
                f"a transit key named {name!r} already exists", facts={"key": name}
            ) from None
        await self._changed(name)
        return await self.get(name)

    async def rotate(self, name: str) -> tuple[TransitKey, int]:
        """Add version ``latest + 1`` and make it the one new data uses.

        Returns:
            The key as read after the rotation, and the version this rotation made:
            with concurrent rotations the key's latest may already be a later one.

        Raises:
            KeyNotFoundError: no such key.
            ConcurrentRotationError: other rotations kept winning.
        """
        for attempt in range(_ROTATE_ATTEMPTS):
            if attempt:
                pause = min(_ROTATE_PAUSE_MAX, 0.001 * 2 ** min(attempt, 6))
                await asyncio.sleep(random.uniform(0, pause))  # noqa: S311 - not a secret
            async with self._sessions() as session:
                record = await self._record(session, name)
                key_id, key_type, latest = record.id, record.type, record.latest_version
            material = await _material(key_type)
            new = latest + 1
            at = now()
            try:
                async with self._sessions.begin() as session:
                    session.add(
                        TransitKeyVersionRecord(
                            key_id=key_id,
                            version=new,
                            created_at=at,
                            material=self._seal(name, key_type, new, material),
                        )
                    )
                    await session.flush()
                    moved = await session.execute(
                        update(TransitKeyRecord)
                        .where(
                            TransitKeyRecord.id == key_id,
                            TransitKeyRecord.latest_version == latest,
                        )
                        .values(latest_version=new, updated_at=at)
                    )
                    _check_moved(moved)
            except (IntegrityError, _RaceLostError):
                continue  # another rotation won this version: read again and retry
            await self._changed(name)
            return await self.get(name, version=new), new
        raise ConcurrentRotationError(
            f"key {name!r} is being rotated concurrently; retry", facts={"key": name}
        )

    async def configure(
        self,
        name: str,
        *,
        min_decryption_version: int | None = None,
        min_encryption_version: int | None = None,
        deletion_allowed: bool | None = None,
        exportable: bool | None = None,
    ) -> TransitKey:
        """Change a key's configuration (``None`` leaves a setting as it is).

        Rules (as Vault Transit's): ``1 <= min_decryption_version <= latest``;
        ``min_encryption_version`` is 0 (the latest) or between
        ``min_decryption_version`` and the latest; ``exportable`` cannot be turned
        off once on.

        Raises:
            KeyNotFoundError: no such key.
            InvalidKeyVersionError, InvalidRequestError: a value that breaks a rule.
        """
        async with self._sessions.begin() as session:
            record = await self._locked(session, name)
            min_dec = record.min_decryption_version
            min_enc = record.min_encryption_version
            if min_decryption_version is not None:
                min_dec = min_decryption_version
            if min_encryption_version is not None:
                min_enc = min_encryption_version
            check_version_rules(record.latest_version, min_dec, min_enc)
            if exportable is False and record.exportable:
                raise InvalidRequestError(
                    "exportable cannot be turned off once it is on (the key may have left)",
                    facts={"key": name},
                )
            record.min_decryption_version = min_dec
            record.min_encryption_version = min_enc
            if deletion_allowed is not None:
                record.deletion_allowed = deletion_allowed
            if exportable:
                record.exportable = True
            record.updated_at = now()
        await self._changed(name)
        return await self.get(name)

    async def delete(self, name: str) -> None:
        """Delete a key and every version, if its ``deletion_allowed`` is on.

        Raises:
            KeyNotFoundError: no such key.
            DeletionNotAllowedError: its ``deletion_allowed`` is off.
        """
        async with self._sessions.begin() as session:
            record = await self._locked(session, name)
            if not record.deletion_allowed:
                raise DeletionNotAllowedError(
                    f"key {name!r} does not allow deletion: set deletion_allowed first "
                    "(data it encrypted can never be decrypted again)",
                    facts={"key": name},
                )
            await session.execute(
                delete(TransitKeyVersionRecord).where(TransitKeyVersionRecord.key_id == record.id)
            )
            await session.execute(delete(TransitKeyRecord).where(TransitKeyRecord.id == record.id))
        await self._changed(name)

    async def export(self, name: str, version: int | None = None) -> dict[str, Any]:
        """The material of an exportable key: one version, or all from ``min_decryption_version``.

        Raises:
            KeyNotFoundError: no such key.
            NotExportableError: the key is not exportable.
            InvalidKeyVersionError: no such exportable version.
        """
        async with self._sessions() as session:
            record = await self._record(session, name)
            if not record.exportable:
                raise NotExportableError(f"key {name!r} is not exportable", facts={"key": name})
            query = select(TransitKeyVersionRecord).where(
                TransitKeyVersionRecord.key_id == record.id,
                TransitKeyVersionRecord.version >= record.min_decryption_version,
            )
            if version is not None:
                query = query.where(TransitKeyVersionRecord.version == version)
            rows = list((await session.execute(query)).scalars())
        if version is not None and not rows:
            raise InvalidKeyVersionError(
                f"key {name!r} has no exportable version {version}",
                facts={"key": name, "version": version},
            )
        keys = {
            str(row.version): export_text(
                record.type, self._open(record, row.version, row.material)
            )
            for row in sorted(rows, key=lambda r: r.version)
        }
        return {"name": record.name, "type": record.type, "keys": keys}


class _RaceLostError(Exception):
    """Another rotation moved ``latest_version`` first."""


def _check_moved(result: Any) -> None:
    if (getattr(result, "rowcount", 0) or 0) != 1:
        raise _RaceLostError
