"""The database URL a team already has: libpq's ``postgresql://`` (or ``postgres://``),
with ``sslmode``, opens with sealbox's async driver."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_sealbox
from tests.service.conftest import POSTGRES_URL, reset_shared_state, shared_env


@pytest.mark.parametrize(
    "scheme_and_query",
    [("postgresql://", ""), ("postgres://", "?sslmode=disable")],
)
def test_serve_and_users_open_a_postgresql_url_that_names_no_driver(
    tmp_path: Path, scheme_and_query: tuple[str, str]
) -> None:
    scheme, query = scheme_and_query
    env = shared_env()
    reset_shared_state()
    env["SEALBOX_DATABASE_URL"] = POSTGRES_URL.replace("postgresql+asyncpg://", scheme) + query
    env["SEALBOX_PASSWORD_PROFILE"] = "test"
    data = tmp_path / "data"
    checked = run_sealbox(["serve", "--data-dir", data, "--check"], env=env)
    assert checked.returncode == 0, checked.stderr.decode()
    made = run_sealbox(
        ["users", "create", "alice", "--data-dir", data], input=b"a long password 1", env=env
    )
    assert made.returncode == 0, made.stderr.decode()
    listed = run_sealbox(["users", "list", "--data-dir", data], env=env)
    assert b"alice" in listed.stdout
    assert not (data / "sealbox.db").exists()  # the accounts went to PostgreSQL
