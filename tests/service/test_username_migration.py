"""Accounts made before the username rules: canonicalised where unambiguous, else kept and reported."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from sqlalchemy import text

from sealbox.passwords import PasswordHasher
from sealbox.service.db import MIGRATIONS, make_engine
from tests.service.conftest import PASSWORD, login, make_settings, register, run_service

OLD_NAMES = ["alice", "Alice", "Bob", "b\u043eb", "with space", "carol"]


def _database_at_0002(path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    password_hash = PasswordHasher("test").hash(PASSWORD)

    def upgrade(connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
        for name in OLD_NAMES:
            connection.execute(
                text(
                    "INSERT INTO users (username, password_hash, scopes, created_at, "
                    "session_version) VALUES (:u, :h, '[\"users:me\"]', '2026-01-01', 0)"
                ),
                {"u": name, "h": password_hash},
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
    _database_at_0002(data / "sealbox.db")
    (data / "sealbox.db").chmod(0o600)
    with caplog.at_level(logging.WARNING, logger="sealbox.service"):
        running_cm = run_service(make_settings(data))
        running = running_cm.__enter__()
    try:
        warnings = "\n".join(r.getMessage() for r in caplog.records)
        assert "one name under RFC 8265, kept as they are: 'alice', 'Alice'" in warnings
        assert "look alike (UTS #39), kept as they are: 'bob', 'b\u043eb'" in warnings
        assert "refuse, kept as they are: 'with space'" in warnings
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
