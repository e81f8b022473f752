"""A :class:`RedisRevocations` writes what Redis missed from a task of its own: started only
when something is missed, ended once Redis took it all, ended by ``close`` while Redis is
still away. Real Redis, reached through a forwarder the test cuts; a real SQLite store."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sealbox.accounts import redis_client, revocation
from sealbox.accounts.database import make_engine, migrate, sessionmaker
from sealbox.accounts.revocation import RedisRevocations
from sealbox.accounts.store import Store
from sealbox.exceptions import StoreUnavailableError
from tests._tcp_proxy import proxy_to
from tests.service.conftest import REDIS_PREFIX, REDIS_URL, require_server

pytestmark = pytest.mark.redis

TASK = "sealbox-revocations-catch-up"


def _catching_up() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == TASK and not t.done()]


@contextlib.asynccontextmanager
async def _store(tmp_path: Path) -> AsyncIterator[Store]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'accounts.db'}")
    try:
        await migrate(engine)
        yield Store(sessionmaker(engine), refresh_ttl=3600)
    finally:
        await engine.dispose()


async def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60  # a guard against a hang, not a measure
    while not condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


def test_what_redis_missed_is_written_by_a_task_that_runs_only_while_something_is_missed(
    tmp_path: Path,
) -> None:
    require_server("Redis", 6379)
    import redis.asyncio as redis

    prefix = f"{REDIS_PREFIX}{tmp_path.name}-catch-up:"
    until = datetime.now(UTC) + timedelta(minutes=5)

    async def run() -> None:
        direct = redis.from_url(REDIS_URL)
        with proxy_to("127.0.0.1", 6379) as proxy:
            async with _store(tmp_path) as store:
                url = REDIS_URL.replace(":6379/", f":{proxy.port}/")
                revocations = RedisRevocations(store, url, prefix)
                try:
                    await revocations.revoke("taken", until)
                    assert _catching_up() == []  # nothing missed, no task
                    proxy.cut()
                    try:
                        with pytest.raises(StoreUnavailableError):
                            await revocations.revoke("missed", until)
                        with pytest.raises(StoreUnavailableError):
                            await revocations.end_sessions(7, 3)
                        assert len(_catching_up()) == 1  # one task for both
                    finally:
                        proxy.restore()
                    # No further call: the task writes both, then ends.
                    await _until(lambda: _catching_up() == [], "the task never ended")
                    assert await direct.get(f"{prefix}jti:missed") == b"1"
                    assert await direct.get(f"{prefix}sv:7") == b"3"
                    proxy.cut()  # and stays cut: close ends the task that retries
                    with pytest.raises(StoreUnavailableError):
                        await revocations.revoke("never-taken", until)
                    (task,) = _catching_up()
                finally:
                    await revocations.close()
                assert task.cancelled()
                assert _catching_up() == []
        await direct.delete(f"{prefix}jti:taken", f"{prefix}jti:missed", f"{prefix}sv:7")
        await direct.aclose()

    asyncio.run(run())


def test_a_redis_that_accepts_and_never_answers_fails_each_try_of_the_task_which_tries_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each try that Redis holds must end (the client's socket timeout) for the next one
    # to open a connection of its own: a second hung connection is a second try.
    # The default bound and the first retry's wait, made short (suite time): the client
    # still gets its timeout from connect(), as a URL that names none does.
    monkeypatch.setattr(redis_client, "SOCKET_TIMEOUT", 0.5)
    monkeypatch.setattr(revocation, "_RETRY_FIRST", 0.1)
    require_server("Redis", 6379)
    import redis.asyncio as redis

    prefix = f"{REDIS_PREFIX}{tmp_path.name}-hung:"
    until = datetime.now(UTC) + timedelta(minutes=5)

    async def run() -> None:
        direct = redis.from_url(REDIS_URL)
        with proxy_to("127.0.0.1", 6379) as proxy:
            async with _store(tmp_path) as store:
                url = REDIS_URL.replace(":6379/", f":{proxy.port}/")
                revocations = RedisRevocations(store, url, prefix)
                try:
                    proxy.cut()
                    with pytest.raises(StoreUnavailableError):
                        await revocations.revoke("missed", until)
                    proxy.hang()
                    await _until(lambda: proxy.hung >= 2, "a hung try was never given up")
                    assert len(_catching_up()) == 1  # still trying
                    proxy.restore()
                    await _until(lambda: _catching_up() == [], "the task never ended")
                    assert await direct.get(f"{prefix}jti:missed") == b"1"
                finally:
                    await revocations.close()
        await direct.delete(f"{prefix}jti:missed")
        await direct.aclose()

    asyncio.run(run())
