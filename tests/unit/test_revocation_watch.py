"""A one-worker service sees sessions another process ended, from its next look on (at most
``WATCH_INTERVAL`` after the announcement)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sealbox.accounts.revocation import (
    WATCH_INTERVAL,
    LocalRevocations,
    RedisRevocations,
    announce_change,
    family_marker,
)
from sealbox.accounts.store import Store
from sealbox.service.db import make_engine, migrate, sessionmaker


@asynccontextmanager
async def watching(tmp_path: Path) -> AsyncIterator[tuple[Store, int, LocalRevocations, Path]]:
    """A store with one account, and revocation lists watching a changes file, loaded."""
    changes = tmp_path / "revocations.changed"
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    try:
        await migrate(engine)
        store = Store(sessionmaker(engine), refresh_ttl=60)
        user = await store.create_user("u", "$argon2id$not-checked-here", [])
        service = LocalRevocations(store, watch=changes)
        await service.load()
        yield store, user.id, service, changes
    finally:
        await engine.dispose()


def test_a_change_announced_by_another_process_is_read_once_by_every_waiting_check(
    tmp_path: Path,
) -> None:
    async def run() -> None:
        async with watching(tmp_path) as (store, user_id, service, changes):
            assert not await service.is_refused("jti", user_id, 0)
            loads = 0
            read_versions = store.session_versions

            async def counted() -> dict[int, int]:
                nonlocal loads
                loads += 1
                return await read_versions()

            store.session_versions = counted  # type: ignore[method-assign]
            # What `sealbox users disable` does in its own process: the database, then
            # the announcement.
            version = await store.change_password(user_id, "$argon2id$other")
            assert not await service.is_refused("jti", user_id, 0)  # not announced yet
            announce_change(changes)
            await asyncio.sleep(WATCH_INTERVAL)
            answers = await asyncio.gather(
                *(service.is_refused("jti", user_id, version - 1) for _ in range(20))
            )
            assert answers == [True] * 20
            assert loads == 1
            assert not await service.is_refused("jti", user_id, version)
            assert loads == 1

    asyncio.run(run())


def test_a_reload_that_failed_is_tried_again_by_the_next_check(tmp_path: Path) -> None:
    async def run() -> None:
        async with watching(tmp_path) as (store, user_id, service, changes):
            version = await store.change_password(user_id, "$argon2id$other")
            announce_change(changes)
            await asyncio.sleep(WATCH_INTERVAL)
            read_versions = store.session_versions

            async def down() -> dict[int, int]:
                raise ConnectionError("database unreachable")

            store.session_versions = down  # type: ignore[method-assign]
            with pytest.raises(ConnectionError):
                await service.is_refused("jti", user_id, 0)
            store.session_versions = read_versions  # type: ignore[method-assign]
            await asyncio.sleep(WATCH_INTERVAL)
            assert await service.is_refused("jti", user_id, version - 1)

    asyncio.run(run())


def test_the_changes_file_is_looked_at_once_per_interval_however_many_checks_come(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def run() -> None:
        async with watching(tmp_path) as (store, user_id, service, changes):
            looks = 0
            stamp = service._stamp

            def counted() -> tuple[int, int] | None:
                nonlocal looks
                looks += 1
                return stamp()

            monkeypatch.setattr(service, "_stamp", counted)
            clock = [1000.0]
            monkeypatch.setattr("sealbox.accounts.revocation.time.monotonic", lambda: clock[0])
            for _ in range(50):
                assert not await service.is_refused("jti", user_id, 0)
            assert looks == 1
            version = await store.change_password(user_id, "$argon2id$other")
            announce_change(changes)
            # Within the interval the change is not looked for yet ...
            assert not await service.is_refused("jti", user_id, version - 1)
            assert looks == 1
            # ... and the first check after it finds it.
            clock[0] += WATCH_INTERVAL
            assert await service.is_refused("jti", user_id, version - 1)
            assert looks > 1

    asyncio.run(run())


def test_the_check_without_a_coroutine_answers_none_while_the_lists_are_read_again(
    tmp_path: Path,
) -> None:
    async def run() -> None:
        async with watching(tmp_path) as (store, user_id, service, changes):
            await service.revoke("gone", datetime.now(UTC) + timedelta(minutes=5))
            # The revocation was announced, to this process too: its lists are read again.
            assert await service.is_refused("gone", user_id, 0)
            assert service.refused_now("gone", user_id, 0, None) is True
            assert service.refused_now("kept", user_id, 0, family_marker("f")) is False
            version = await store.change_password(user_id, "$argon2id$other")
            announce_change(changes)
            await asyncio.sleep(WATCH_INTERVAL)
            # The change is seen: a reload starts, and until it ends there is no answer ...
            assert service.refused_now("kept", user_id, version - 1, None) is None
            # ... which the coroutine waits for.
            assert await service.is_refused("kept", user_id, version - 1)
            assert service.refused_now("kept", user_id, version - 1, None) is True
            assert service.refused_now("kept", user_id, version, None) is False

    asyncio.run(run())


def test_revocations_made_in_one_process_are_refused_by_another_watching_the_same_file(
    tmp_path: Path,
) -> None:
    async def run() -> None:
        async with watching(tmp_path) as (store, user_id, here, changes):
            there = LocalRevocations(store, watch=changes)
            await there.load()
            until = datetime.now(UTC) + timedelta(minutes=5)
            # A logout, a revoked refresh family and a password change made here…
            await here.revoke("logged-out", until)
            await here.revoke_family("family-1", until)
            version = await store.change_password(user_id, "$argon2id$other")
            await here.end_sessions(user_id, version)
            await asyncio.sleep(WATCH_INTERVAL)
            # …hold there from its next check on.
            assert await there.is_refused("logged-out", user_id, version)
            assert await there.is_refused("other", user_id, version, "family-1")
            assert await there.is_refused("other", user_id, version - 1)
            assert not await there.is_refused("other", user_id, version)

    asyncio.run(run())


def _session_versions_rise_only(make: str, tmp_path: Path) -> None:
    """Two changes racing tell their versions in either order: the higher holds. A deleted
    account's cut-off is forgotten (its id may come back for a new account)."""

    async def run() -> None:
        async with watching(tmp_path) as (store, user_id, _watching, _changes):
            # Lists that read the database again on no announcement: what they are told.
            revocations: LocalRevocations | RedisRevocations = LocalRevocations(store)
            if make == "redis":
                from tests.service.conftest import REDIS_PREFIX, REDIS_URL, require_server

                require_server("Redis", 6379)
                revocations = RedisRevocations(store, REDIS_URL, f"{REDIS_PREFIX}rise:")
            try:
                await revocations.end_sessions(user_id, 5)
                await revocations.end_sessions(user_id, 4)  # the slower of two changes
                assert await revocations.is_refused("t", user_id, 4)
                assert not await revocations.is_refused("t", user_id, 5)
                await revocations.reset_sessions(user_id)
                assert not await revocations.is_refused("t", user_id, 0)
            finally:
                if make == "redis":
                    await revocations.reset_sessions(user_id)
                    await revocations.close()

    asyncio.run(run())


def test_a_session_cut_off_only_rises_in_the_local_lists(tmp_path: Path) -> None:
    _session_versions_rise_only("local", tmp_path)


def test_a_session_cut_off_only_rises_in_redis(tmp_path: Path) -> None:
    _session_versions_rise_only("redis", tmp_path)
