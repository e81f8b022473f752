"""A PostgreSQL server that answers sealbox's new connection by refusing it — credentials
it no longer takes, a database it does not have — is answered ``503 store_unavailable``
with a ``Retry-After``, as a server that does not answer is, but said as the refusal it
is: the log line and the command line name the user or the database (never the password
or the URL with it), and ``sealbox users`` hints at ``SEALBOX_DATABASE_URL`` and the role.

The server here trusts every local connection, so the refusal is a real one of another
kind: a role of this module's own that is made unable to log in (``NOLOGIN``) under a
running service, whose connections are then ended; PostgreSQL answers each new one with
``InvalidAuthorizationSpecificationError``, as it answers a wrong password with
``InvalidPasswordError`` (both of SQLSTATE class 28).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.service._transit import add_user
from tests.service.conftest import (
    REDIS_PREFIX,
    REDIS_URL,
    RUN_ID,
    ServeProcess,
    _admin,
    _delete_redis_keys,
    bearer,
    login,
    make_settings,
    require_server,
    serve_process,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

# Given in the URL: the server (trust) ignores it, and it must be shown nowhere.
CANARY = "canary-db-role-password-7c3e"


@dataclass
class Role:
    work: Path
    data: Path
    env: dict[str, str]
    name: str
    database: str


def _serve_env(url: str, prefix: str) -> dict[str, str]:
    return {
        "SEALBOX_DATABASE_URL": url,
        "SEALBOX_REDIS_URL": REDIS_URL,
        "SEALBOX_REDIS_PREFIX": prefix,
        "SEALBOX_PASSWORD_PROFILE": "test",
    }


@pytest.fixture(scope="module")
def role(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Role]:
    require_server("PostgreSQL", 5432)
    require_server("Redis", 6379)
    name = f"sealbox_refused_{RUN_ID}"
    prefix = f"{REDIS_PREFIX.removesuffix(':')}-refused:"
    asyncio.run(_admin(f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{CANARY}'"))
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}" OWNER "{name}"'))
        try:
            url = f"postgresql://{name}:{CANARY}@127.0.0.1:5432/{name}"
            work = tmp_path_factory.mktemp("db-refused")
            data = work / "data"
            env = _serve_env(url, prefix)
            with serve_process(work, env=env, data_dir=data):
                pass  # provisions the data folder and migrates the database, as the role
            settings = make_settings(data, database_url=url, redis_url=REDIS_URL)
            add_user(settings, "ops", ["users:admin"])
            yield Role(work, data, env, name, name)
        finally:
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        asyncio.run(_admin(f'DROP ROLE IF EXISTS "{name}"'))
        _delete_redis_keys(prefix)


def _refuse_logins(role: str) -> None:
    """The role may no longer log in, and its open connections are ended (only its own:
    other runs share this server)."""
    asyncio.run(_admin(f'ALTER ROLE "{role}" NOLOGIN'))
    asyncio.run(
        _admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE usename = '{role}' AND pid <> pg_backend_pid()"
        )
    )


def _refused(answer: object, name: str) -> None:
    import httpx2

    assert isinstance(answer, httpx2.Response), answer
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "5"
    assert answer.json()["error"] == "store_unavailable", answer.text
    # The client learns that the store refused, not what: the role or database's name is
    # the operator's (in the log).
    assert answer.json()["message"] == (
        "PostgreSQL refused the service's connection while opening a connection: try again later"
    ), answer.text
    assert name not in answer.text
    assert CANARY not in answer.text and "127.0.0.1" not in answer.text


def _no_secret_in(server: ServeProcess) -> None:
    assert CANARY not in server.stderr, server.stderr[-3000:]
    assert "Traceback" not in server.stderr, server.stderr[-3000:]


def test_credentials_refused_under_a_running_service_are_answered_503_and_logged_as_refused(
    role: Role,
) -> None:
    said = (
        f"PostgreSQL refused the credentials of user '{role.name}' while opening a "
        "connection (InvalidAuthorizationSpecificationError)"
    )
    with (
        serve_process(role.work, env=role.env, data_dir=role.data) as server,
        server.client() as c,
    ):
        token = login(c, "ops").json()["access_token"]
        assert c.get("/users", headers=bearer(token)).status_code == 200
        _refuse_logins(role.name)
        try:
            _refused(c.get("/users", headers=bearer(token)), role.name)
            _refused(c.post("/auth/token", data={"username": "ops", "password": "x"}), role.name)
        finally:
            asyncio.run(_admin(f'ALTER ROLE "{role.name}" LOGIN'))
        assert c.get("/users", headers=bearer(token)).status_code == 200  # in again
    warnings = [line for line in server.stderr.splitlines() if "store_unavailable" in line]
    assert len(warnings) == 2, server.stderr[-3000:]
    assert all(said in line for line in warnings), warnings
    assert "did not answer" not in server.stderr
    _no_secret_in(server)


def _users(role: Role, *args: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")} | role.env
    if url is not None:
        env["SEALBOX_DATABASE_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "sealbox", "users", *args, "--data-dir", str(role.data)],
        cwd=role.work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_sealbox_users_refused_its_credentials_hints_at_the_url_and_the_role(role: Role) -> None:
    _refuse_logins(role.name)
    try:
        done = _users(role, "list")
    finally:
        asyncio.run(_admin(f'ALTER ROLE "{role.name}" LOGIN'))
    assert done.returncode == 1, done
    error, hint = done.stderr.splitlines()
    assert error.startswith("sealbox: error: cannot open the database "), error
    assert f'role "{role.name}" is not permitted to log in' in error
    assert hint == (
        "sealbox: hint: check the user and password in SEALBOX_DATABASE_URL: the role "
        f"'{role.name}' must exist on the database server, be allowed to log in from this "
        "host (pg_hba.conf), and have that password (ALTER ROLE ... PASSWORD)"
    )
    assert CANARY not in done.stderr and CANARY not in done.stdout
    assert _users(role, "list").returncode == 0  # in again


def test_sealbox_users_on_a_database_the_server_has_not_hints_at_its_name(role: Role) -> None:
    absent = f"{role.database}_absent"
    url = f"postgresql://{role.name}:{CANARY}@127.0.0.1:5432/{absent}"
    done = _users(role, "list", url=url)
    assert done.returncode == 1, done
    assert done.stderr.splitlines()[1] == (
        "sealbox: hint: check the database name in SEALBOX_DATABASE_URL: the server has no "
        f"database '{absent}' (create it, or name the one sealbox uses)"
    )
    assert CANARY not in done.stderr


def test_a_database_dropped_under_a_running_service_is_answered_503_naming_it(
    role: Role, tmp_path: Path
) -> None:
    # A database of its own, owned by the role: the module's stays for the other tests.
    name = f"{role.database}_dropped"
    url = f"postgresql://{role.name}:{CANARY}@127.0.0.1:5432/{name}"
    env = _serve_env(url, role.env["SEALBOX_REDIS_PREFIX"].replace("refused", "dropped"))
    asyncio.run(_admin(f'CREATE DATABASE "{name}" OWNER "{role.name}"'))
    try:
        with serve_process(tmp_path, env=env, data_dir=tmp_path / "data") as server:
            asyncio.run(_admin(f'DROP DATABASE "{name}" WITH (FORCE)'))
            with server.client() as c:
                answer = c.post("/auth/token", data={"username": "ops", "password": "x"})
            _refused(answer, name)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        _delete_redis_keys(env["SEALBOX_REDIS_PREFIX"])
    _no_secret_in(server)
    said = (
        f"PostgreSQL refused the database name '{name}' (no such database) while "
        "opening a connection (InvalidCatalogNameError)"
    )
    assert said in server.stderr, server.stderr[-3000:]
