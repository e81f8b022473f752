"""Clients registered before clients could be disabled (migration 0011): the upgrade keeps
them enabled at session version 0, their secrets and tokens keep working, and ending their
tokens refuses the ones issued before."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, Table, insert

from sealbox.accounts.clients import OAuthClient, hash_client_secret
from sealbox.accounts.revocation import WATCH_INTERVAL
from sealbox.service.client_admin import disable_client, find_client
from sealbox.service.db import MIGRATIONS, make_engine
from tests.service.conftest import make_settings, private_shared_state, require_server, run_service

CLIENT_ID = "sbc_beforeDisabling01"
SECRET = "sbs_" + "s" * 43


def _database_at(url: str, revision: str) -> None:
    """The database at ``url`` migrated to ``revision``, holding one client with ``SECRET``."""
    from alembic import command
    from alembic.config import Config

    # The table as it was at that revision: without the columns 0011 adds.
    added = {"disabled", "session_version"}
    old = Table(
        "oauth_clients",
        MetaData(),
        *(c._copy() for c in OAuthClient.__table__.columns if c.name not in added),
    )
    at = datetime(2026, 1, 1, tzinfo=UTC)

    def upgrade(connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.execute(
            insert(old).values(
                client_id=CLIENT_ID,
                name="old-robot",
                scopes=["users:me"],
                secret_hash=hash_client_secret(SECRET),
                created_at=at,
                secret_rotated_at=at,
            )
        )

    async def run() -> None:
        engine = make_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(upgrade)
        await engine.dispose()

    asyncio.run(run())


@contextmanager
def _backend(name: str, data: Path) -> Iterator[dict[str, Any]]:
    if name == "sqlite":
        data.mkdir(mode=0o700)
        _database_at(f"sqlite+aiosqlite:///{data / 'sealbox.db'}", "0010")
        (data / "sealbox.db").chmod(0o600)
        yield {}
        return
    require_server("PostgreSQL", 5432)
    with private_shared_state("client-migration") as shared:
        _database_at(shared["database_url"], "0010")
        yield shared


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_client_registered_before_the_upgrade_keeps_working_until_its_tokens_end(
    tmp_path: Path, backend: str
) -> None:
    data = tmp_path / "data"
    with _backend(backend, data) as shared, run_service(make_settings(data, **shared)) as svc:
        basic = "Basic " + base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
        with svc.client() as c:
            answer = c.post(
                "/auth/token",
                data={"grant_type": "client_credentials"},
                headers={"Authorization": basic},
            )
            assert answer.status_code == 200, answer.text
            token = answer.json()["access_token"]
            lookup = {"X-Vault-Token": token}
            assert c.get("/v1/auth/token/lookup-self", headers=lookup).status_code == 200
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        assert claims["sid"] == f"client:{CLIENT_ID}"  # version 0: as before the upgrade
        assert find_client(svc.settings, "old-robot").disabled is False
        disable_client(svc.settings, "old-robot")
        asyncio.run(asyncio.sleep(WATCH_INTERVAL))
        with svc.client() as c:
            assert c.get("/v1/auth/token/lookup-self", headers=lookup).status_code == 403
