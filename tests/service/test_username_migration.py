"""Accounts made before the username rules: canonicalised where unambiguous, else kept and reported."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from sqlalchemy import text

from sealbox.passwords import PasswordHasher
from sealbox.service.db import MIGRATIONS, make_engine
from tests.conftest import run_sealbox
from tests.service.conftest import PASSWORD, login, make_settings, register, run_service

OLD_NAMES = ["alice", "Alice", "Bob", "b\u043eb", "with space", "carol"]


def _database_at(
    path: Path, revision: str, names: list[str], skeletons: dict[str, str] | None = None
) -> None:
    """A SQLite database migrated to ``revision`` holding accounts named ``names``.

    ``skeletons``: the skeleton stored with a name (as an older mapping computed it).
    """
    from alembic import command
    from alembic.config import Config

    password_hash = PasswordHasher("test").hash(PASSWORD)
    with_skeleton = skeletons is not None

    def upgrade(connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        for name in names:
            columns = ", username_skeleton" if with_skeleton else ""
            values = ", :s" if with_skeleton else ""
            connection.execute(
                text(
                    f"INSERT INTO users (username, password_hash, scopes, created_at, "
                    f"session_version{columns}) "
                    f"VALUES (:u, :h, '[\"users:me\"]', '2026-01-01', 0{values})"
                ),
                {"u": name, "h": password_hash, "s": (skeletons or {}).get(name)},
            )

    async def run() -> None:
        engine = make_engine(f"sqlite+aiosqlite:///{path}")
        async with engine.begin() as conn:
            await conn.run_sync(upgrade)
        await engine.dispose()

    asyncio.run(run())


def test_old_accounts_keep_working_and_collisions_are_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    _database_at(data / "sealbox.db", "0002", OLD_NAMES)
    (data / "sealbox.db").chmod(0o600)
    with caplog.at_level(logging.WARNING, logger="sealbox.service"):
        running_cm = run_service(make_settings(data))
        running = running_cm.__enter__()
    try:
        warnings = [r.getMessage() for r in caplog.records]
        for expected in (
            "usernames that are one name under RFC 8265, kept as they are: 'alice', 'Alice'",
            "usernames that look alike (UTS #39), kept as they are: 'bob', 'b\u043eb'",
            "usernames the RFC 8265 rules refuse, kept as they are: 'with space'",
        ):
            # Once, though two migrations of this upgrade look at the names.
            assert warnings.count(expected) == 1, warnings
        with running.client() as c:
            # Each colliding account logs in under the name it has.
            alice = login(c, "alice").json()
            big_alice = login(c, "Alice").json()
            assert alice["access_token"] != big_alice["access_token"]
            # An unambiguous old name was made canonical and answers to both spellings.
            assert login(c, "Bob").status_code == 200
            assert login(c, "bob").status_code == 200
            assert login(c, "with space").status_code == 200
            # No new look-alike of any of them can be registered.
            for name in ("ALICE", "BOB", "\u0441arol", "carol"):
                assert register(c, name).status_code == 409, name
            assert register(c, "dave").status_code == 201
    finally:
        running_cm.__exit__(None, None, None)


def test_skeletons_stored_under_an_older_mapping_are_recomputed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    # CYRILLIC SMALL LETTER PALOCHKA looked like "i" to Unicode 13.0's mapping; it looks
    # like "l" to the current one. An account made then stored the old skeleton.
    _database_at(data / "sealbox.db", "0003", ["o\u04cf"], skeletons={"o\u04cf": "oi"})
    (data / "sealbox.db").chmod(0o600)
    with run_service(make_settings(data)) as running, running.client() as c:
        assert register(c, "ol").status_code == 409
        assert register(c, "oi").status_code == 201
        assert login(c, "o\u04cf").status_code == 200


def test_serve_check_reports_collisions_on_stderr(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    _database_at(data / "sealbox.db", "0002", OLD_NAMES)
    (data / "sealbox.db").chmod(0o600)
    env = {"SEALBOX_PASSWORD_PROFILE": "test"}
    r = run_sealbox(["serve", "--check", "--data-dir", str(data)], env=env)
    stderr = r.stderr.decode()
    assert r.returncode == 0, stderr
    assert "usernames that are one name under RFC 8265, kept as they are: 'alice', 'Alice'" in (
        stderr
    )
    assert "usernames the RFC 8265 rules refuse, kept as they are: 'with space'" in stderr
    assert "is ready" in stderr
