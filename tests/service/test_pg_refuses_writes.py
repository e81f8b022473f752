"""A PostgreSQL server that answers but refuses for a state of its own that passes — a
read-only server (a hot standby after a failover, ``default_transaction_read_only``), no
room on its disk, no memory or connection slot left, a statement canceled by
``statement_timeout`` — is the store being unavailable: ``sealbox serve`` answers 503
``store_unavailable`` with ``Retry-After`` and one warning line saying why (never the
URL or its password), ``sealbox users`` an error and a hint; what a read-only server can
answer (a token check, ``users list``) keeps working, and a statement's own error (a
syntax error, a constraint) stays the driver's error."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from sealbox.accounts.database import make_engine
from sealbox.exceptions import StoreUnavailableError
from tests.conftest import run_sealbox
from tests.service.conftest import (
    _admin,
    bearer,
    login,
    private_shared_state,
    register,
    serve_process,
)

SECRET = "canary-pg-pw-7d41"  # trust auth takes any password: never to be shown
READ_ONLY_HINT = (
    "sealbox: hint: the database refuses writes (read-only): point SEALBOX_DATABASE_URL at "
    "the primary (after a failover, the new one), or turn default_transaction_read_only off "
    "for its database or role\n"
)


@pytest.fixture
def database() -> Iterator[dict[str, Any]]:
    """Settings for a PostgreSQL database of this module's own, its URL with a password."""
    with private_shared_state("refuses", password=SECRET) as shared:
        yield shared


def _name(shared: dict[str, Any]) -> str:
    return str(shared["database_url"]).rsplit("/", 1)[1]


def _read_only(name: str) -> None:
    """Make the database read-only for new sessions, and end its sessions in use (a
    failover's effect: the pool opens new ones, now read-only)."""
    asyncio.run(_admin(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
    asyncio.run(
        _admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        )
    )


def test_a_read_only_server_refuses_changes_503_and_answers_reads(
    tmp_path: Path, database: dict[str, Any]
) -> None:
    env = {f"SEALBOX_{k.upper()}": str(v) for k, v in database.items()}
    data = tmp_path / "data"
    with serve_process(tmp_path, env=env, data_dir=data) as server, server.client() as c:
        assert register(c, "alice").status_code == 201
        tokens = login(c, "alice").json()
        _read_only(_name(database))

        # A token check reads: a read-only server answers it.
        me = c.get("/users/me", headers=bearer(tokens["access_token"]))
        assert me.status_code == 200, me.text
        refresh = {"refresh_token": tokens["refresh_token"]}
        for answer in (
            login(c, "alice"),
            register(c, "bob"),
            c.post("/auth/refresh", json=refresh),
            c.post("/auth/logout", json=refresh, headers=bearer(tokens["access_token"])),
        ):
            assert answer.status_code == 503, answer.text
            assert answer.json()["error"] == "store_unavailable"
            # A statement refused, not a connection: the body says so, and no more.
            assert answer.json()["message"] == (
                "PostgreSQL refused the request while running a statement: try again later"
            )
            assert answer.headers["Retry-After"] == "5"
            assert SECRET not in answer.text

        # sealbox users on the same database: reads work, a change is a clear error.
        listed = run_sealbox(["users", "list", "--data-dir", data], env=env)
        assert listed.returncode == 0, listed.stderr
        assert b"alice" in listed.stdout
        changed = run_sealbox(["users", "disable", "alice", "--data-dir", data], env=env)
        assert changed.returncode == 1
        err = changed.stderr.decode()
        assert err.startswith(
            "sealbox: error: PostgreSQL refused writes (the server is read-only) while "
            "running a statement (ReadOnlySQLTransactionError)\n"
        ), err
        assert err.endswith(READ_ONLY_HINT), err
        assert SECRET not in err

    said = [line for line in server.stderr.splitlines() if "store_unavailable" in line]
    assert len(said) == 4, server.stderr
    assert all("PostgreSQL refused writes (the server is read-only)" in x for x in said)
    # The connection works (reads are served): no outage is announced.
    assert "PostgreSQL is unavailable" not in server.stderr
    assert "internal" not in server.stderr
    assert SECRET not in server.stderr and "127.0.0.1:5432" not in server.stderr


async def _raise(url: str, *statements: str) -> BaseException:
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    except Exception as exc:  # noqa: BLE001 - the error is what is looked at
        return exc
    finally:
        await engine.dispose()
    raise AssertionError("the statement did not fail")


@pytest.mark.parametrize(
    ("errcode", "failed", "refused"),
    [
        ("disk_full", "disk_full", "the statement (its disk is full)"),
        ("out_of_memory", "resources", "the statement (it is out of memory)"),
        ("configuration_limit_exceeded", "resources", "the statement (it is out of resources)"),
        ("read_only_sql_transaction", "read_only", "writes (the server is read-only)"),
    ],
)
def test_a_server_out_of_room_or_memory_is_unavailable(
    database: dict[str, Any], errcode: str, failed: str, refused: str
) -> None:
    # PostgreSQL raises the SQLSTATE itself, as it does when its disk or memory runs out.
    error = asyncio.run(
        _raise(
            database["database_url"],
            f"DO $$ BEGIN RAISE EXCEPTION 'no room' USING ERRCODE = '{errcode}'; END $$",
        )
    )
    assert isinstance(error, StoreUnavailableError), repr(error)
    assert error.code == "database_unavailable"
    assert error.facts["failed"] == failed
    assert error.refused == refused
    assert str(error).startswith(f"PostgreSQL refused {refused} while running a statement (")
    assert SECRET not in str(error) + repr(error.facts)


def test_a_statement_timeout_is_unavailable(database: dict[str, Any]) -> None:
    name = _name(database)

    async def scenario() -> BaseException:
        import asyncpg

        holder = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}")
        try:
            await holder.execute("CREATE TABLE held (x int)")
            await _admin(f"ALTER DATABASE \"{name}\" SET statement_timeout = '300ms'")
            async with holder.transaction():
                await holder.execute("LOCK TABLE held IN ACCESS EXCLUSIVE MODE")
                # Waits on the lock held above until the server cancels it.
                return await _raise(database["database_url"], "SELECT * FROM held")
        finally:
            await holder.close()

    error = asyncio.run(scenario())
    assert isinstance(error, StoreUnavailableError), repr(error)
    assert error.facts["failed"] == "canceled"
    assert "(QueryCanceledError)" in str(error)


@pytest.mark.parametrize(
    ("statements", "sqlstate"),
    [
        (["SELEC 1"], "42601"),
        (["CREATE TABLE t (x int PRIMARY KEY)", "INSERT INTO t VALUES (1), (1)"], "23505"),
    ],
)
def test_a_statements_own_error_stays_a_driver_error(
    database: dict[str, Any], statements: list[str], sqlstate: str
) -> None:
    error = asyncio.run(_raise(database["database_url"], *statements))
    assert isinstance(error, DBAPIError), repr(error)
    assert getattr(error.orig, "sqlstate", None) == sqlstate


def test_no_connection_slot_left_is_a_clear_cli_error(
    tmp_path: Path, database: dict[str, Any]
) -> None:
    role = f"{_name(database)}_limited"
    asyncio.run(_admin(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 0'))
    try:
        url = str(database["database_url"]).replace("://postgres:", f"://{role}:")
        r = run_sealbox(
            ["users", "list", "--data-dir", tmp_path / "data"],
            env={"SEALBOX_DATABASE_URL": url},
        )
    finally:
        asyncio.run(_admin(f'DROP ROLE IF EXISTS "{role}"'))
    err = r.stderr.decode()
    assert r.returncode == 1
    assert f'too many connections for role "{role}"' in err
    assert err.endswith(
        "sealbox: hint: the database server has no connection slot left: stop idle clients, "
        "or raise max_connections (or the CONNECTION LIMIT of the role or database in "
        "SEALBOX_DATABASE_URL), then run the command again\n"
    ), err
    assert SECRET not in err
