"""A PostgreSQL connection lost under a request, or a database that cannot be reached, is
answered ``503 store_unavailable`` with a ``Retry-After`` on every kind of route (never a
500: it is neither the client's fault nor a bug), logged as one warning line with no
statement or value, and the service serves again once the database answers; ``sealbox
users`` says so in one ``sealbox: error:`` line and its hint.

A real ``sealbox serve`` process on a database of this module's own. A request is held
inside the database by a lock this test takes from its own connection; the service's
backend waiting on it is the one terminated (``pg_blocking_pids``: never another
session's, other runs share this server).
"""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from sealbox.service.settings import ServiceSettings
from tests._tcp_proxy import proxy_to
from tests.service._transit import ALL_SCOPES, add_user
from tests.service.conftest import (
    POSTGRES_ADMIN_URL,
    ServeProcess,
    bearer,
    login,
    make_settings,
    private_shared_state,
    serve_process,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

SCOPES = ["users:admin", "clients:admin", "kv:admin", *ALL_SCOPES]


@dataclass
class Database:
    work: Path
    data: Path
    env: dict[str, str]
    settings: ServiceSettings
    name: str
    url: str


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    with private_shared_state("db_lost") as shared:
        env = {f"SEALBOX_{k.upper()}": str(v) for k, v in shared.items()}
        env["SEALBOX_PASSWORD_PROFILE"] = "test"
        work = tmp_path_factory.mktemp("db-lost")
        data = work / "data"
        url = str(shared["database_url"])
        settings = make_settings(data, **shared)
        with serve_process(work, env=env, data_dir=data):
            pass  # provisions the data folder and migrates the database
        add_user(settings, "ops", SCOPES)
        yield Database(work, data, env, settings, url.rsplit("/", 1)[1], url)


def _admin_url(database: str) -> str:
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{database}"


class HeldInside:
    """This test's own transaction holding ``tables`` (default: every table of the
    database), and the backends waiting on it."""

    def __init__(self, database: str, tables: tuple[str, ...] = ()) -> None:
        self._database = database
        self._tables = tables
        self._loop = asyncio.new_event_loop()
        self._conn: Any = None

    def __enter__(self) -> HeldInside:
        self._loop.run_until_complete(self._lock())
        return self

    def __exit__(self, *_exc: object) -> None:
        self._loop.run_until_complete(self._conn.close())  # ends the transaction
        self._loop.close()

    async def _lock(self) -> None:
        import asyncpg

        self._conn = await asyncpg.connect(_admin_url(self._database))
        tables = self._tables or [
            row["t"]
            for row in await self._conn.fetch(
                "SELECT quote_ident(tablename) AS t FROM pg_tables WHERE schemaname = 'public'"
            )
        ]
        await self._conn.execute("BEGIN")
        names = ", ".join(tables)
        await self._conn.execute(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE")

    def waiting(self) -> int:
        return len(self._loop.run_until_complete(self._blocked("pid")))

    def terminate_waiting(self) -> int:
        ended = self._loop.run_until_complete(self._blocked("pg_terminate_backend(pid)"))
        return sum(1 for row in ended if row[0])

    async def _blocked(self, what: str) -> list[Any]:
        # Within a transaction, the server's activity is read once and kept: read anew.
        await self._conn.execute("SELECT pg_stat_clear_snapshot()")
        # Only backends this very connection blocks: the service's, never another's.
        return list(
            await self._conn.fetch(
                f"SELECT {what} FROM pg_stat_activity "
                "WHERE datname = $1 AND pg_backend_pid() = ANY(pg_blocking_pids(pid))",
                self._database,
            )
        )


def _until(condition: Callable[[], bool], what: Callable[[], object]) -> None:
    deadline = time.monotonic() + 60  # a guard against a hang, not a measure
    while not condition():
        assert time.monotonic() < deadline, what()
        time.sleep(0.05)


Call = tuple[str, str, dict[str, Any]]


_fresh = itertools.count(1)


def _calls(token: str) -> list[Call]:
    """A request of each kind of route that reads the database: sign-in, account and client
    administration, transit (its lean entry) and the Vault-compatible KV and transit
    routes. The transit keys are new names each time: a key read once is cached."""
    h = bearer(token)
    vault = {"X-Vault-Token": token}
    n = next(_fresh)
    return [
        ("POST", "/auth/token", {"data": {"username": "ops", "password": "wrong password"}}),
        ("GET", "/users", {"headers": h}),
        ("GET", "/clients", {"headers": h}),
        ("POST", f"/v1/keys/absent-{n}/encrypt", {"headers": h, "json": {"plaintext": "aGk="}}),
        ("GET", "/v1/secret/data/held", {"headers": vault}),
        (
            "POST",
            f"/v1/transit/encrypt/made-{n}",
            {"headers": vault, "json": {"plaintext": "aGk="}},
        ),
    ]


def _send(server: ServeProcess, calls: list[Call]) -> tuple[list[threading.Thread], list[Any]]:
    answers: list[Any] = [None] * len(calls)

    def one(i: int, method: str, path: str, kw: dict[str, Any]) -> None:
        try:
            with server.client() as c:
                answers[i] = c.request(method, path, **kw)
        except Exception as exc:  # noqa: BLE001 - kept for the assertion, with its type
            answers[i] = exc

    threads = [threading.Thread(target=one, args=(i, *call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    return threads, answers


def _unavailable(path: str, answer: Any) -> None:
    assert isinstance(answer, httpx2.Response), (path, answer)
    assert answer.status_code == 503, (path, answer.text)
    assert answer.headers["retry-after"] == "5", path
    if path.startswith(("/v1/secret", "/v1/transit")):
        (message,) = answer.json()["errors"]  # Vault's shape
    else:
        assert answer.json()["error"] == "store_unavailable", (path, answer.text)
        message = answer.json()["message"]
    assert message.startswith("PostgreSQL did not answer while "), (path, message)
    assert "127.0.0.1" not in answer.text and "SELECT" not in answer.text.upper()


def _no_sql_in(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr[-3000:]
    assert "unhandled" not in stderr, stderr[-3000:]
    for leak in ("SELECT", "[parameters", "[SQL", "$argon2", "canary"):
        assert leak not in stderr, stderr[-3000:]


def _token(server: ServeProcess) -> str:
    with server.client() as c:
        return str(login(c, "ops").json()["access_token"])


def _served(server: ServeProcess, token: str) -> None:
    """Each call is answered as usual (the first, a wrong password, aside)."""
    with server.client() as c:
        for method, path, kw in _calls(token)[1:]:
            answer = c.request(method, path, **kw)
            assert answer.status_code in (200, 404), (path, answer.text)


def test_requests_whose_database_connection_is_killed_in_flight_are_answered_503_on_every_route(
    database: Database,
) -> None:
    d = database
    with serve_process(d.work, env=d.env, data_dir=d.data) as server:
        token = _token(server)
        _served(server, token)
        calls = _calls(token)
        with HeldInside(d.name) as held:
            threads, answers = _send(server, calls)
            _until(
                lambda: held.waiting() >= len(calls),
                lambda: (held.waiting(), [getattr(a, "status_code", a) for a in answers]),
            )
            assert held.terminate_waiting() >= len(calls)
        for t in threads:
            t.join(60)
        for (_method, path, _kw), answer in zip(calls, answers, strict=True):
            _unavailable(path, answer)
        _served(server, token)  # the pool opens new connections
    warnings = [line for line in server.stderr.splitlines() if "store_unavailable" in line]
    assert len(warnings) == len(calls), server.stderr[-3000:]
    assert all("PostgreSQL did not answer while" in line for line in warnings), warnings
    _no_sql_in(server.stderr)


def test_a_database_that_stops_answering_or_whose_port_closes_is_answered_503_until_it_is_back(
    database: Database,
) -> None:
    d = database
    with proxy_to("127.0.0.1", 5432) as proxy:
        env = {**d.env, "SEALBOX_DATABASE_URL": d.url.replace(":5432/", f":{proxy.port}/")}
        with serve_process(d.work, env=env, data_dir=d.data) as server:
            token = _token(server)
            _served(server, token)
            with server.client() as c:
                proxy.cut()  # open connections dropped, new ones closed as they open
                try:
                    for method, path, kw in _calls(token):
                        _unavailable(path, c.request(method, path, **kw))
                finally:
                    proxy.restore()
                _served(server, token)
                proxy.close()  # nothing listens on the port any more: refused
                for method, path, kw in _calls(token):
                    _unavailable(path, c.request(method, path, **kw))
    _no_sql_in(server.stderr)


def _users(d: Database, *args: str) -> subprocess.Popen[str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")} | d.env
    return subprocess.Popen(
        [sys.executable, "-m", "sealbox", "users", *args, "--data-dir", str(d.data)],
        cwd=d.work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize(
    "tables",
    [("users",), ()],
    ids=["in-the-change", "in-the-schema-check"],
)
def test_sealbox_users_whose_database_connection_is_killed_says_so_in_one_error_line(
    database: Database, tables: tuple[str, ...]
) -> None:
    # With only the accounts held, the command is stopped in its change, after its
    # schema check: what it says must not be the answer to a Redis that did not answer.
    d = database
    name = f"kept-{len(tables)}"
    add_user(d.settings, name, ["users:me"])
    with HeldInside(d.name, tables) as held:
        command = _users(d, "delete", name, "--yes")
        _until(lambda: held.waiting() >= 1 or command.poll() is not None, command.poll)
        assert held.terminate_waiting() == 1, command.communicate(timeout=60)
    out, err = command.communicate(timeout=60)
    assert command.returncode == 1, (out, err)
    assert err == (
        "sealbox: error: PostgreSQL did not answer while running a statement "
        "(ConnectionDoesNotExistError)\n"
        "sealbox: hint: check SEALBOX_DATABASE_URL (without it, the SQLite database of the "
        "data folder), and that the database server runs and lets this user in\n"
    ), err
    listed = _users(d, "list").communicate(timeout=60)[0]
    assert name in listed  # not deleted
