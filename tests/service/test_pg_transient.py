"""A PostgreSQL server that rolls a transaction back for a moment's conflict with another
— a lock not granted in time (``lock_timeout``, ``NOWAIT``: 55P03), a deadlock (40P01),
a serialization failure (40001) — is the store being unavailable for now, not a bug:
the library raises :class:`StoreUnavailableError` (``database_unavailable``, saying what
failed), ``sealbox serve`` answers 503 ``store_unavailable`` with ``Retry-After``, and
``sealbox users`` an error and a hint; the same request succeeds when sent again."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from sealbox.accounts.database import make_engine
from sealbox.exceptions import StoreUnavailableError
from tests.conftest import run_sealbox
from tests.service._row_lock import blocked_by
from tests.service.conftest import _admin, login, private_shared_state, register, serve_process

SECRET = "canary-pg-pw-5e27"  # trust auth takes any password: never to be shown
LOCK_HINT = (
    "sealbox: hint: a statement waited for a lock longer than lock_timeout (or NOWAIT): "
    "run the command again; if it recurs, look for a lock held elsewhere, or raise the "
    "lock_timeout of the role or database\n"
)


@pytest.fixture
def database() -> Iterator[dict[str, Any]]:
    """Settings for a PostgreSQL database of this module's own, its URL with a password."""
    with private_shared_state("transient", password=SECRET) as shared:
        yield shared


def _name(shared: dict[str, Any]) -> str:
    return str(shared["database_url"]).rsplit("/", 1)[1]


def _assert_refused(error: BaseException, failed: str, sqlstate: str, cause: str) -> None:
    assert isinstance(error, StoreUnavailableError), repr(error)
    assert error.code == "database_unavailable"
    assert (error.facts["failed"], error.facts["sqlstate"]) == (failed, sqlstate)
    assert str(error).startswith(f"PostgreSQL refused {error.refused} while running a ")
    assert f"({cause})" in str(error)
    assert SECRET not in str(error) + repr(error.facts) + (error.hint or "")


def test_a_lock_not_granted_in_time_is_503_and_a_cli_hint(
    tmp_path: Path, database: dict[str, Any]
) -> None:
    env = {f"SEALBOX_{k.upper()}": str(v) for k, v in database.items()}
    data = tmp_path / "data"
    name = _name(database)
    loop = asyncio.new_event_loop()
    with serve_process(tmp_path, env=env, data_dir=data) as server, server.client() as c:
        assert register(c, "alice").status_code == 201
        # lock_timeout for the database's new sessions; the pool's are ended (and opened
        # again, with the setting, as the next request needs them).
        asyncio.run(_admin(f"ALTER DATABASE \"{name}\" SET lock_timeout = '200ms'"))
        asyncio.run(
            _admin(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
            )
        )
        import asyncpg

        holder = loop.run_until_complete(
            asyncpg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}")
        )
        try:
            loop.run_until_complete(
                holder.execute("BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
            )
            answer = login(c, "alice")
            assert answer.status_code == 503, answer.text
            assert answer.json()["error"] == "store_unavailable"
            assert answer.json()["message"] == (
                "PostgreSQL refused the request while running a statement: try again later"
            )
            assert answer.headers["Retry-After"] == "5"
            assert SECRET not in answer.text

            changed = run_sealbox(["users", "disable", "alice", "--data-dir", data], env=env)
            assert changed.returncode == 1
            err = changed.stderr.decode()
            assert err.startswith(
                "sealbox: error: PostgreSQL refused the statement (a lock it waited for was "
                "not granted in time) while running a statement (LockNotAvailableError)\n"
            ), err
            assert err.endswith(LOCK_HINT), err
            assert SECRET not in err
        finally:
            loop.run_until_complete(holder.close())
            loop.close()
        # The lock released, the same request succeeds.
        assert login(c, "alice").status_code == 200

    said = [line for line in server.stderr.splitlines() if "store_unavailable" in line]
    assert len(said) == 1, server.stderr
    assert "internal" not in server.stderr
    assert SECRET not in server.stderr and "127.0.0.1:5432" not in server.stderr


def test_a_row_locked_elsewhere_past_lock_timeout_is_unavailable(
    database: dict[str, Any],
) -> None:
    name = _name(database)

    async def scenario() -> BaseException:
        import asyncpg

        holder = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}")
        # lock_timeout given as the engine's connections are opened (server settings).
        engine = make_engine(
            database["database_url"],
            connect_args={"server_settings": {"lock_timeout": "200ms"}},
        )
        try:
            await holder.execute("CREATE TABLE held (id int PRIMARY KEY, n int)")
            await holder.execute("INSERT INTO held VALUES (1, 0)")
            async with holder.transaction():
                await holder.execute("SELECT 1 FROM held WHERE id = 1 FOR UPDATE")
                try:
                    async with engine.begin() as conn:
                        await conn.execute(text("UPDATE held SET n = n + 1 WHERE id = 1"))
                except Exception as exc:  # noqa: BLE001 - the error is what is looked at
                    return exc
                raise AssertionError("the update did not wait for the lock")
        finally:
            await engine.dispose()
            await holder.close()

    error = asyncio.run(scenario())
    _assert_refused(error, "lock_timeout", "55P03", "LockNotAvailableError")


async def _waits_on(holder: AsyncConnection, count: int) -> None:
    """Return once ``count`` backends wait for a lock ``holder`` holds."""
    for _ in range(600):  # up to half a minute
        if await blocked_by(holder) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the other transaction never waited for the lock")


def test_a_deadlock_is_unavailable_and_the_other_transaction_commits(
    database: dict[str, Any],
) -> None:
    async def scenario() -> list[Any]:
        engine = make_engine(database["database_url"])
        try:
            async with engine.begin() as conn:
                await conn.execute(text("CREATE TABLE pair (id int PRIMARY KEY, n int)"))
                await conn.execute(text("INSERT INTO pair VALUES (1, 0), (2, 0)"))
            bump = text("UPDATE pair SET n = n + 1 WHERE id = :id")
            async with engine.connect() as a, engine.connect() as b:
                await a.begin()
                await b.begin()
                await a.execute(bump, {"id": 1})
                await b.execute(bump, {"id": 2})
                first = asyncio.ensure_future(a.execute(bump, {"id": 2}))  # waits for b
                await _waits_on(b, 1)
                second = asyncio.ensure_future(b.execute(bump, {"id": 1}))  # a deadlock
                outcome = list(await asyncio.gather(first, second, return_exceptions=True))
                for conn, result in zip((a, b), outcome, strict=True):
                    if isinstance(result, BaseException):
                        await conn.rollback()
                    else:
                        await conn.commit()
            async with engine.connect() as conn:
                total = (await conn.execute(text("SELECT sum(n) FROM pair"))).scalar_one()
            return [*outcome, total]
        finally:
            await engine.dispose()

    *outcome, total = asyncio.run(scenario())
    errors = [x for x in outcome if isinstance(x, BaseException)]
    assert len(errors) == 1, outcome
    _assert_refused(errors[0], "conflict", "40P01", "DeadlockDetectedError")
    # The server rolled the deadlocked transaction back; the other committed both its bumps.
    assert total == 2


def test_a_serialization_failure_is_unavailable(database: dict[str, Any]) -> None:
    async def scenario() -> BaseException:
        engine = make_engine(database["database_url"], isolation_level="SERIALIZABLE")
        try:
            async with engine.begin() as conn:
                await conn.execute(text("CREATE TABLE ledger (n int)"))
            count = text("SELECT count(*) FROM ledger")
            add = text("INSERT INTO ledger VALUES (1)")
            async with engine.connect() as a, engine.connect() as b:
                await a.begin()
                await b.begin()
                # Each reads what the other then writes: no order of the two gives both.
                await a.execute(count)
                await b.execute(count)
                await a.execute(add)
                await b.execute(add)
                await a.commit()
                try:
                    await b.commit()
                except Exception as exc:  # noqa: BLE001 - the error is what is looked at
                    return exc
                raise AssertionError("both serializable transactions committed")
        finally:
            await engine.dispose()

    error = asyncio.run(scenario())
    _assert_refused(error, "conflict", "40001", "SerializationError")
