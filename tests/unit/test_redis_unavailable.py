"""A Redis that does not answer refuses: revocation checks and throttled attempts raise
StoreUnavailableError, named by what was being done, never quoting the URL or its
password. Nothing listens on port 1, so these run without any Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sealbox.accounts.database import make_engine, migrate, sessionmaker
from sealbox.accounts.revocation import RedisRevocations
from sealbox.accounts.store import Store
from sealbox.accounts.throttle import RedisThrottle
from sealbox.exceptions import StorageError, StoreUnavailableError

pytest.importorskip("redis", reason="the redis extra is not installed")

DEAD = "redis://:canary-redis-secret-7f1c@127.0.0.1:1/0"


def _no_address(exc: StoreUnavailableError) -> None:
    text = f"{exc} {exc.hint} {exc.facts} {exc!r}"
    assert "canary-redis-secret" not in text
    assert "127.0.0.1" not in text
    assert exc.code == "store_unavailable"
    assert isinstance(exc, StorageError)
    assert exc.__cause__ is None and exc.__suppress_context__


@contextlib.asynccontextmanager
async def _store(tmp_path: Path) -> AsyncIterator[Store]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'accounts.db'}")
    try:
        await migrate(engine)
        yield Store(sessionmaker(engine), refresh_ttl=3600)
    finally:
        await engine.dispose()


def test_a_revocation_check_without_redis_refuses_instead_of_passing(tmp_path: Path) -> None:
    async def run() -> StoreUnavailableError:
        async with _store(tmp_path) as store:
            revocations = RedisRevocations(store, DEAD)
            try:
                with pytest.raises(StoreUnavailableError) as caught:
                    await revocations.is_refused("some-jti", 1, 0, "family")
            finally:
                await revocations.close()
        return caught.value

    exc = asyncio.run(run())
    assert exc.operation == "checking a token's revocation"
    assert exc.store == "Redis"
    _no_address(exc)


def test_a_revocation_without_redis_keeps_its_database_record_for_the_next_start(
    tmp_path: Path,
) -> None:
    async def run() -> tuple[StoreUnavailableError, dict[str, datetime]]:
        async with _store(tmp_path) as store:
            revocations = RedisRevocations(store, DEAD)
            try:
                with pytest.raises(StoreUnavailableError) as caught:
                    await revocations.revoke("gone-jti", datetime.now(UTC) + timedelta(minutes=5))
            finally:
                await revocations.close()
            return caught.value, await store.revoked_jtis()

    exc, recorded = asyncio.run(run())
    assert exc.operation == "recording a revocation"
    _no_address(exc)
    assert "gone-jti" in recorded  # load() copies it into Redis at the next start


def test_a_throttled_attempt_without_redis_is_refused(tmp_path: Path) -> None:
    async def run() -> StoreUnavailableError:
        throttle = RedisThrottle(DEAD)
        try:
            with pytest.raises(StoreUnavailableError) as caught:
                await throttle.acquire([("user:alice", 5)], 60)
        finally:
            await throttle.close()
        return caught.value

    exc = asyncio.run(run())
    assert exc.operation == "counting an attempt"
    _no_address(exc)


def test_a_refresh_without_redis_goes_on_and_a_reuse_it_finds_revokes_the_family_first(
    tmp_path: Path,
) -> None:
    # As docs/service.md says: refresh families live in the database, so a refresh needs
    # no Redis; a reuse revokes the family in the database, then answers 503.
    from sealbox.accounts import sessions
    from sealbox.accounts.core import Accounts
    from sealbox.jwt import SigningKeySet

    async def run() -> tuple[str, StoreUnavailableError, str]:
        async with _store(tmp_path) as store:
            user = await store.create_user("alice", "$argon2id$unused", ["users:me"])
            revocations = RedisRevocations(store, DEAD)
            throttle = RedisThrottle(DEAD)
            accounts = Accounts(
                store,
                SigningKeySet.generate("EdDSA"),
                revocations=revocations,
                throttle=throttle,
            )
            try:
                first = await sessions.start_session(accounts, user)
                second = await sessions.refresh(accounts, first.refresh_token, "192.0.2.1")
                with pytest.raises(StoreUnavailableError) as caught:
                    await sessions.refresh(accounts, first.refresh_token, "192.0.2.1")
                after = (await store.use_refresh(second.refresh_token)).status
            finally:
                await revocations.close()
                await throttle.close()
            return second.scope[0], caught.value, after

    scope, exc, after = asyncio.run(run())
    assert scope == "users:me"
    assert exc.operation == "recording a revocation"
    _no_address(exc)
    assert after == "invalid"  # the family was revoked before the 503


def test_a_unix_socket_that_does_not_answer_is_named_with_what_is_wrong(tmp_path: Path) -> None:
    import socket
    import tempfile

    from sealbox.accounts.redis_client import ping

    # A socket's path must be short (108 bytes): tmp_path may be longer.
    with tempfile.TemporaryDirectory(dir="/tmp") as short:
        silent = Path(short) / "silent.sock"
        with socket.socket(socket.AF_UNIX) as bound:
            bound.bind(str(silent))  # never listens: a connection is refused
        plain = tmp_path / "plain"
        plain.write_text("")
        said = {}
        for path in (Path(short) / "missing.sock", silent, plain):
            with pytest.raises(StoreUnavailableError) as caught:
                asyncio.run(ping(f"unix://:canary-redis-secret-7f1c@{path}", "starting"))
            _no_address(caught.value)
            said[path.name] = caught.value.cause
    assert said == {
        "missing.sock": f"ConnectionError: the socket {short}/missing.sock does not exist",
        "silent.sock": f"ConnectionError: nothing listens on the socket {silent}",
        "plain": f"ConnectionError: {plain} is not a socket",
    }
