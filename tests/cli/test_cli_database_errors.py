"""A database that cannot be opened is one clear error naming it (without its password)
and why, with a hint: no traceback, no "unexpected internal error"."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.service.conftest import require_server

HINT = (
    "sealbox: hint: check SEALBOX_DATABASE_URL (without it, the SQLite database of the data "
    "folder), and that the database server runs and lets this user in\n"
)


def _users_list(cli, tmp_path: Path, url: str):
    return cli(
        ["users", "list", "--data-dir", tmp_path / "data"], env={"SEALBOX_DATABASE_URL": url}
    )


@pytest.mark.parametrize("scheme", ["postgresql+asyncpg", "postgresql", "postgres"])
def test_a_database_server_that_does_not_answer_is_a_clear_error(
    cli, tmp_path: Path, scheme: str
) -> None:
    # libpq's postgresql:// and postgres:// open with asyncpg, as postgresql+asyncpg:// does.
    r = _users_list(cli, tmp_path, f"{scheme}://app:canary-db-pw-3c1@127.0.0.1:1/x")
    assert r.code == 1
    assert r.stderr.startswith(
        "sealbox: error: cannot open the database postgresql+asyncpg://app:***@127.0.0.1:1/x: "
    )
    assert "onnect call failed" in r.stderr
    assert r.stderr.endswith(HINT)
    assert "canary-db-pw-3c1" not in r.stderr + r.out


@pytest.mark.parametrize(
    ("where", "why", "hint"),
    [
        (
            "postgres:canary-db-pw-3c1@127.0.0.1:5432/no_such_db_x",
            'database "no_such_db_x"',
            (
                "sealbox: hint: check the database name in SEALBOX_DATABASE_URL: the server has no "
                "database 'no_such_db_x' (create it, or name the one sealbox uses)\n"
            ),
        ),
        (
            "no_such_role_x:canary-db-pw-3c1@127.0.0.1:5432/test",
            'role "no_such_role_x"',
            (
                "sealbox: hint: check the user and password in SEALBOX_DATABASE_URL: the role "
                "'no_such_role_x' must exist on the database server, be allowed to log in from "
                "this host (pg_hba.conf), and have that password (ALTER ROLE ... PASSWORD)\n"
            ),
        ),
    ],
)
def test_a_database_that_refuses_says_why(
    cli, tmp_path: Path, where: str, why: str, hint: str
) -> None:
    require_server("PostgreSQL", 5432)
    r = _users_list(cli, tmp_path, f"postgresql+asyncpg://{where}")
    assert r.code == 1
    assert f"{why} does not exist\n" in r.stderr
    # The hint names what the server refused: the database's name, or the role.
    assert r.stderr.endswith(hint), r.stderr
    assert "canary-db-pw-3c1" not in r.stderr + r.out
    assert "unexpected" not in r.stderr and "Traceback" not in r.stderr


def test_an_sqlite_database_that_cannot_be_opened_says_which(cli, tmp_path: Path) -> None:
    folder = tmp_path / "a-folder.sqlite"  # a folder where the database file should be
    folder.mkdir()
    r = _users_list(cli, tmp_path, f"sqlite+aiosqlite:///{folder}")
    assert r.code == 1
    assert f"cannot open the database sqlite+aiosqlite:///{folder}: " in r.stderr
    assert r.stderr.endswith(HINT)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        # A database sealbox has no async driver for.
        ("mysql://app:canary-db-pw-3c1@db/x", "'mysql://app:***@db/x'"),
        ("not a url canary-db-pw-3c1", "(not shown: it may hold a password)"),
    ],
)
def test_a_database_url_sealbox_cannot_use_is_a_clear_error(
    cli, tmp_path: Path, url: str, shown: str
) -> None:
    r = _users_list(cli, tmp_path, url)
    assert r.code == 1
    assert r.stderr.startswith(
        f"sealbox: error: the database URL {shown} is not one sealbox can open ("
    )
    assert r.stderr.endswith(
        "sealbox: hint: set SEALBOX_DATABASE_URL to postgresql+asyncpg://USER@HOST/DATABASE, "
        "or leave it unset for the data folder's SQLite database\n"
    )
    assert "canary-db-pw-3c1" not in r.stderr + r.out
    assert "unexpected" not in r.stderr


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("postgresql://app:canary-db-pw-3c1@127.0.0.1:5432/x?foo=bar", "asyncpg takes no"),
        ("postgresql://app:canary-db-pw-3c1@127.0.0.1:70000/x", "not in 1-65535"),
        ("postgresql://app:canary-db-pw-3c1@[::1/x", "ValueError"),
        ("postgresql://app:canary-db-pw-3c1@127.0.0.1/x?timeout=soon", "'timeout' is not"),
    ],
)
def test_a_postgresql_url_asyncpg_cannot_take_is_a_clear_error_not_an_internal_one(
    cli, tmp_path: Path, url: str, why: str
) -> None:
    r = _users_list(cli, tmp_path, url)
    assert r.code == 1
    assert r.stderr.startswith("sealbox: error: the database URL ")
    assert why in r.stderr.splitlines()[0]
    assert r.stderr.endswith(
        "sealbox: hint: set SEALBOX_DATABASE_URL to postgresql+asyncpg://USER@HOST/DATABASE, "
        "or leave it unset for the data folder's SQLite database\n"
    )
    assert "canary-db-pw-3c1" not in r.stderr + r.out
    assert "unexpected" not in r.stderr
