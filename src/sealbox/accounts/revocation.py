"""Refusing access tokens before they expire: revoked ``jti`` values, refresh families, and
per-user session versions.

Two backends with one interface:

- :class:`LocalRevocations` keeps the lists in memory, persisted in the database
  and loaded at start: right for one worker (``sealbox serve`` refuses several
  workers without Redis).
- :class:`RedisRevocations` keeps them in Redis (``SET … EXAT``), so every worker on
  every host sees a revocation at once; the database still records it.

Access tokens carry the id of the refresh family they were issued from (``sid``):
when a family is revoked (reuse detected, logout), every access token issued from
it is refused at once, not only its refresh tokens. A revoked family is recorded
like a revoked ``jti``, under ``family:<id>``, for as long as an access token of the
family can live.

A check costs a dict lookup (local) or one Redis round trip (``MGET`` of three keys).

Another process sharing the database (``sealbox users disable`` beside a running
one-worker service without Redis, or another worker of an app of one's own) records its
change in the database and rewrites a small *changes file* (:func:`announce_change`),
as a watching :class:`LocalRevocations` does after its own revocations; a
:class:`LocalRevocations` told to ``watch`` that file checks it (one ``stat``) before a
request when the last check is more than :data:`WATCH_INTERVAL` old, and reloads the
lists when it was replaced, so the change holds for every request that comes a
millisecond after it was announced. A ``stat`` costs the serving process several
microseconds (the system call, and the caches it cools), a share of a small route's time
worth saving; a millisecond is shorter than announcing the change takes
(``bench/results/accounts.md`` has both).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, Protocol

from sealbox.accounts.audit import ChangeRecord
from sealbox.accounts.db_unreachable import DatabaseFullError
from sealbox.accounts.redis_client import KEEPING_POLICY, connect, read_policy, unavailable
from sealbox.accounts.store import Store

__all__ = [
    "KEEP_MARGIN",
    "WATCH_INTERVAL",
    "LocalRevocations",
    "RedisRevocations",
    "Revocations",
    "after_commit",
    "announce_change",
    "family_marker",
    "kept_until",
]


#: Seconds a :class:`LocalRevocations` goes without looking at its changes file again.
WATCH_INTERVAL = 0.001

#: Seconds a revocation is kept past the lifetime of the access tokens it refuses: a
#: margin for clocks a little apart.
KEEP_MARGIN = 60

# Seconds between a :class:`RedisRevocations`' tries to write what Redis missed: the
# first, and the most the wait grows to while Redis stays away.
_RETRY_FIRST: Final = 1.0
_RETRY_MOST: Final = 15.0

log = logging.getLogger("sealbox.accounts")


def kept_until(access_token_ttl: int, *, at: datetime | None = None) -> datetime:
    """Until when a revocation made now (or ``at``) must be kept: every access token it
    refuses has expired by then."""
    start = at if at is not None else datetime.now(UTC)
    return start + timedelta(seconds=access_token_ttl + KEEP_MARGIN)


def family_marker(family_id: str) -> str:
    """The revocation-list entry of a refresh family (beside access-token ids)."""
    return f"family:{family_id}"


@contextlib.contextmanager
def after_commit() -> Iterator[None]:
    """Around the revocation-list writes that follow a change already committed (a logout,
    a detected reuse, a revocation, a deletion): a database whose disk refuses them raises
    :class:`~sealbox.accounts.db_unreachable.DatabaseFullError` saying the change is made
    (``change_made``), not that nothing was kept. The audit record open around it
    (:meth:`~sealbox.accounts.audit.ChangeRecord.open`) is told the change committed, so
    that a failure here is not recorded as a change not made (``not_committed``)."""
    record = ChangeRecord.open()
    if record is not None:
        record.committed()
    try:
        yield
    except DatabaseFullError as exc:
        if exc.change_made:
            raise
        raise exc.after_change() from None


def announce_change(path: Path) -> None:
    """Tell the processes watching ``path`` that the revocation records changed.

    The file is replaced (a new inode each time), so a watcher cannot miss a change
    however close two of them come.
    """
    from sealbox.storage import atomic_writer

    with atomic_writer(path, durable=False) as out:
        out.write(secrets.token_hex(8).encode())


class Revocations(Protocol):
    """Where revoked token ids and session cut-offs live."""

    async def load(self) -> None:
        """Read the persisted state (at start-up)."""

    async def revoke(self, jti: str, expires_at: datetime, *, stored: bool = False) -> None:
        """Refuse the access token ``jti`` until ``expires_at``.

        ``stored``: the caller's own transaction has committed its record in the database
        (:func:`~sealbox.accounts.refresh_tokens.record_revoked_jti`), which is not written
        again; every worker is still told at once (Redis, or the changes file).
        """

    async def revoke_family(self, family_id: str, expires_at: datetime) -> None:
        """Refuse every access token issued from the refresh family until ``expires_at``."""

    async def end_sessions(self, user_id: int, version: int) -> None:
        """Refuse the user's access tokens whose session version is below ``version``.

        The cut-off only rises: two changes racing (two password changes, a change and a
        disabling) may tell it their versions in either order, and the higher holds.
        """

    async def reset_sessions(self, user_id: int) -> None:
        """Forget the user's cut-off: the account was deleted, and its id may come back
        for a new account, whose session version starts again."""

    async def is_refused(
        self, jti: str, user_id: int, session_version: int, family_id: str | None = None
    ) -> bool:
        """Whether a token must be refused."""

    async def close(self) -> None:
        """Release connections."""


class LocalRevocations:
    """In-memory revocation lists backed by the database.

    ``watch``: a changes file other processes rewrite after changing the records
    (:func:`announce_change`); the lists are reloaded when it was replaced.
    """

    def __init__(self, store: Store, *, watch: Path | None = None) -> None:
        self._store = store
        self._jtis: dict[str, float] = {}
        self._versions: dict[int, int] = {}
        self._watch = os.fspath(watch) if watch is not None else None
        self._seen: tuple[int, int] | None = None
        self._next_look = 0.0
        self._reloading: asyncio.Future[None] | None = None

    async def load(self) -> None:
        if self._watch is not None and self._seen is None and self._stamp() is None:
            # Made when missing: looking for a file that is not there raises and catches
            # an exception, on the requests that look.
            with contextlib.suppress(OSError):
                announce_change(Path(self._watch))
        # Taken first: a change announced while the database is read is read again.
        stamp = self._stamp()
        # Merged: a revocation recorded while the database was read is kept. The
        # session versions are the database's (a deleted account's go away).
        for jti, until in (await self._store.revoked_jtis()).items():
            self._jtis[jti] = until.timestamp()
        self._versions = await self._store.session_versions()
        self._seen = stamp

    async def _reload(self) -> None:
        try:
            await self.load()
        finally:
            self._reloading = None

    def _stamp(self) -> tuple[int, int] | None:
        if self._watch is None:
            return None
        try:
            st = os.stat(self._watch)  # noqa: PTH116 - a str path: every request pays it
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns

    async def revoke(self, jti: str, expires_at: datetime, *, stored: bool = False) -> None:
        if not stored:
            await self._store.revoke_jti(jti, expires_at)
        self._jtis[jti] = expires_at.timestamp()
        self._prune()
        self._announce()

    async def revoke_family(self, family_id: str, expires_at: datetime) -> None:
        await self.revoke(family_marker(family_id), expires_at)

    async def end_sessions(self, user_id: int, version: int) -> None:
        if version > self._versions.get(user_id, 0):
            self._versions[user_id] = version
        self._announce()

    async def reset_sessions(self, user_id: int) -> None:
        self._versions.pop(user_id, None)
        self._announce()

    def _announce(self) -> None:
        # Other processes watching the file (an app's other workers) reload their lists;
        # this one reloads too, rather than miss a change announced just before its own.
        if self._watch is not None:
            announce_change(Path(self._watch))

    async def is_refused(
        self, jti: str, user_id: int, session_version: int, family_id: str | None = None
    ) -> bool:
        family_key = family_marker(family_id) if family_id is not None else None
        while (refused := self.refused_now(jti, user_id, session_version, family_key)) is None:
            if self._reloading is not None:
                # Every request that comes while the lists are read waits for them.
                await asyncio.shield(self._reloading)
        return refused

    def refused_now(
        self, jti: str, user_id: int, session_version: int, family_key: str | None
    ) -> bool | None:
        """:meth:`is_refused` without waiting: ``None`` while the lists are being read again.

        ``family_key`` is the family's :func:`family_marker`. A caller that gets ``None``
        awaits :meth:`is_refused`, which waits for the lists. This is the check of every
        guarded request, so it is not a coroutine: one is worth saving there.
        """
        if self._watch is not None:
            now = time.monotonic()
            if now >= self._next_look:
                self._next_look = now + WATCH_INTERVAL
                if self._reloading is None and self._stamp() != self._seen:
                    self._reloading = asyncio.ensure_future(self._reload())
            if self._reloading is not None:
                return None
        jtis = self._jtis
        if jti in jtis or (family_key is not None and family_key in jtis):
            return True
        return session_version < self._versions.get(user_id, 0)

    def _prune(self) -> None:
        if len(self._jtis) > 1024:
            t = time.time()
            self._jtis = {j: e for j, e in self._jtis.items() if e > t}

    async def close(self) -> None:
        return None


# Each session cut-off KEYS[i] set to ARGV[i] unless it is that high already: a cut-off
# only rises, whatever order racing changes tell it their versions in.
_RAISE: Final = """
for i, key in ipairs(KEYS) do
  local version = tonumber(ARGV[i])
  if version > tonumber(redis.call('GET', key) or '0') then
    redis.call('SET', key, ARGV[i])
  end
end
return 0
"""


class RedisRevocations:
    """Revocation lists in Redis, shared by every worker and host.

    When Redis does not answer, a check raises
    :class:`~sealbox.exceptions.StoreUnavailableError` (the request is refused, not let
    through), and so does a revocation: its record in the database is kept, and is
    copied into Redis again by :meth:`load` at the next start; repeating the revocation
    once Redis answers completes it at once. Until then the process keeps the records
    Redis missed, refuses their tokens itself, and writes them to Redis at its next call
    to it, and from a task of its own that tries every few seconds (waiting longer
    while Redis stays away, up to ``_RETRY_MOST``): a revocation whose database record
    is made cannot be repeated by every caller (a refresh token replayed again is only
    seen revoked), and its tokens would otherwise pass on every other worker once Redis
    answers, for as long as this process had no request. The task runs only while
    something is missed, and :meth:`close` ends it.
    """

    def __init__(self, store: Store, url: str, prefix: str = "sealbox:") -> None:
        self._store = store
        self._redis, self._failures = connect(url)
        self._prefix = prefix
        self._raise = self._redis.register_script(_RAISE)
        # Records Redis did not take: key -> expiry (revocations), user id -> version.
        self._missed: dict[str, int] = {}
        self._missed_versions: dict[int, int] = {}
        self._retrying: asyncio.Task[None] | None = None
        self._closed = False

    def _retry_later(self) -> None:
        """Start the task writing what Redis missed, unless it runs already."""
        if self._retrying is None and not self._closed:
            self._retrying = asyncio.get_running_loop().create_task(
                self._retry_missed(), name="sealbox-revocations-catch-up"
            )

    async def _retry_missed(self) -> None:
        delay = _RETRY_FIRST
        try:
            while self._missed or self._missed_versions:
                await asyncio.sleep(delay)
                try:
                    await self._catch_up()
                except self._failures:
                    delay = min(delay * 2, _RETRY_MOST)
        finally:
            self._retrying = None

    async def _catch_up(self) -> None:
        """Write the records Redis missed (a no-op when none were)."""
        while self._missed:
            key, exat = next(iter(self._missed.items()))
            await self._redis.set(key, b"1", exat=max(exat, int(time.time()) + 1))
            if self._missed.get(key) == exat:  # not raised meanwhile, nor written by another
                del self._missed[key]
        if self._missed_versions:
            versions = dict(self._missed_versions)
            await self._raise(
                keys=[f"{self._prefix}sv:{u}" for u in versions], args=list(versions.values())
            )
            for user_id, version in versions.items():
                if self._missed_versions.get(user_id) == version:
                    del self._missed_versions[user_id]

    async def load(self) -> None:
        # The database is the record: copy the session versions a restart must keep.
        versions = await self._store.session_versions()
        revoked = await self._store.revoked_jtis()
        try:
            if versions:
                # Raised only: a change another host makes meanwhile may be higher already.
                await self._raise(
                    keys=[f"{self._prefix}sv:{u}" for u in versions],
                    args=list(versions.values()),
                )
            for jti, expires_at in revoked.items():
                await self._redis.set(
                    f"{self._prefix}jti:{jti}", b"1", exat=int(expires_at.timestamp()) + 1
                )
            policy = await read_policy(self._redis)
        except self._failures as exc:
            raise unavailable(exc, "loading the revocation lists") from None
        if policy is not None and policy != KEEPING_POLICY:
            # Said, not refused: the application chose its Redis (sealbox serve refuses it).
            log.warning(
                "Redis's maxmemory-policy is %s: under memory pressure it may evict the "
                "revocation lists and throttle counters (revoked tokens pass again); "
                "set it to %s",
                policy,
                KEEPING_POLICY,
            )

    async def revoke(self, jti: str, expires_at: datetime, *, stored: bool = False) -> None:
        if not stored:
            await self._store.revoke_jti(jti, expires_at)
        key, exat = f"{self._prefix}jti:{jti}", int(expires_at.timestamp()) + 1
        try:
            await self._catch_up()
            await self._redis.set(key, b"1", exat=max(exat, int(time.time()) + 1))
        except self._failures as exc:
            self._missed[key] = max(exat, self._missed.get(key, 0))
            self._retry_later()
            raise unavailable(exc, "recording a revocation") from None

    async def revoke_family(self, family_id: str, expires_at: datetime) -> None:
        await self.revoke(family_marker(family_id), expires_at)

    async def end_sessions(self, user_id: int, version: int) -> None:
        try:
            await self._catch_up()
            await self._raise(keys=[f"{self._prefix}sv:{user_id}"], args=[version])
        except self._failures as exc:
            missed = self._missed_versions.get(user_id, 0)
            self._missed_versions[user_id] = max(version, missed)
            self._retry_later()
            raise unavailable(exc, "ending a user's sessions") from None

    async def reset_sessions(self, user_id: int) -> None:
        self._missed_versions.pop(user_id, None)  # the account is gone: nothing to refuse
        try:
            await self._redis.delete(f"{self._prefix}sv:{user_id}")
        except self._failures as exc:
            raise unavailable(exc, "ending a user's sessions") from None

    async def is_refused(
        self, jti: str, user_id: int, session_version: int, family_id: str | None = None
    ) -> bool:
        family = family_marker(family_id) if family_id is not None else jti
        keys = (f"{self._prefix}jti:{jti}", f"{self._prefix}jti:{family}")
        if self._missed or self._missed_versions:
            # Tried on every check until Redis takes them; this process refuses them
            # meanwhile, and a Redis that answers reads only is no reason to refuse all.
            with contextlib.suppress(*self._failures):
                await self._catch_up()
            if any(key in self._missed for key in keys):
                return True
            if session_version < self._missed_versions.get(user_id, 0):
                return True
        try:
            revoked, revoked_family, current = await self._redis.mget(
                *keys, f"{self._prefix}sv:{user_id}"
            )
        except self._failures as exc:
            raise unavailable(exc, "checking a token's revocation") from None
        if revoked is not None or revoked_family is not None:
            return True
        return current is not None and session_version < int(current)

    async def close(self) -> None:
        self._closed = True
        retrying = self._retrying
        if retrying is not None:
            retrying.cancel()
            # Waited for, not awaited: its cancellation is no cancellation of this call.
            await asyncio.wait([retrying])
        await self._redis.aclose()
