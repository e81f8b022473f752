"""Administrators at the same time: no change to an account is lost, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sealbox.accounts.admin import AccountAdmin
from sealbox.accounts.revocation import LocalRevocations
from sealbox.accounts.store import Store
from sealbox.passwords import PasswordHasher
from sealbox.service.db import make_engine, migrate, sessionmaker
from tests.service.conftest import make_settings


def test_concurrent_grants_and_a_disable_from_separate_engines_all_hold(
    tmp_path: Path, backend: dict[str, Any]
) -> None:
    settings = make_settings(tmp_path / "data", **backend)
    settings.data_dir.mkdir(parents=True)
    url = settings.resolved_database_url()
    hasher = PasswordHasher("test")

    async def run() -> tuple[list[str], bool, int]:
        # One engine per administrator, as separate `sealbox users` processes have.
        engines = [make_engine(url) for _ in range(9)]
        try:
            await migrate(engines[0])
            admins = []
            for engine in engines:
                store = Store(sessionmaker(engine), refresh_ttl=60)
                admins.append(
                    AccountAdmin(store, LocalRevocations(store), hasher, access_token_ttl=60)
                )
            await admins[0].store.create_user("target", hasher.hash("target password"), [])
            await asyncio.gather(
                *(a.grant("target", [f"scope:{i}"]) for i, a in enumerate(admins[1:])),
                admins[0].disable("target"),
            )
            final = await admins[0].show("target")
            user = await admins[0].store.user_by_name("target")
            assert user is not None
            return list(final.scopes), final.disabled, user.session_version
        finally:
            for engine in engines:
                await engine.dispose()

    scopes, disabled, version = asyncio.run(run())
    assert scopes == [f"scope:{i}" for i in range(8)]
    assert disabled is True
    assert version == 1
