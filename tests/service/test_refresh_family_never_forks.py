"""A refresh family has one live token, retry grace or not, on SQLite and PostgreSQL.

A retry within ``SEALBOX_REFRESH_REUSE_GRACE`` gets a new token beside the one the first
use answered. That one is then used: presented again within the grace it is a retry, after
it a reuse, which revokes the family. Left live, a replay within the grace forked the
family into two branches, each refreshed on its own for ever, and the owner's next
refresh detected nothing. Refreshes of one family at the same instant take turns, so
none of them adds a token beside another's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from sealbox.accounts.models import RefreshToken
from sealbox.accounts.store import Store
from sealbox.service.db import make_engine, migrate, sessionmaker
from tests.service.conftest import private_shared_state

GRACE = 60.0


@dataclass
class _Family:
    engine: AsyncEngine
    store: Store
    token: str  # its first refresh token
    family: str


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'accounts.db'}"
        return
    with private_shared_state("refresh_forks") as shared:
        yield shared["database_url"]


@asynccontextmanager
async def _family(url: str) -> AsyncIterator[_Family]:
    engine = make_engine(url)
    try:
        await migrate(engine)
        store = Store(sessionmaker(engine), refresh_ttl=3600)
        user = await store.create_user("owner", "$argon2id$unused", ["users:me"])
        token, family = await store.issue_refresh(user.id, "users:me")
        yield _Family(engine, store, token, family)
    finally:
        await engine.dispose()


async def _live(f: _Family) -> list[Any]:
    """The family's tokens that a refresh would still take as unused."""
    async with sessionmaker(f.engine)() as session:
        rows = await session.execute(
            select(RefreshToken.id).where(
                RefreshToken.family_id == f.family,
                RefreshToken.used_at.is_(None),
                RefreshToken.revoked_at.is_(None),
            )
        )
        return list(rows.all())


def test_a_replay_within_the_grace_is_detected_when_the_owner_refreshes_after_it(
    database_url: str,
) -> None:
    async def run() -> None:
        async with _family(database_url) as f:
            owner = await f.store.use_refresh(f.token, GRACE)
            replay = await f.store.use_refresh(f.token, GRACE)
            assert (owner.status, replay.status, replay.retried) == ("ok", "ok", True)
            assert owner.token is not None and replay.token is not None
            assert len(await _live(f)) == 1
            # The owner refreshes after the grace (a grace of 0 for this presentation):
            # its token was superseded by the replay's, so this is a reuse.
            late = await f.store.use_refresh(owner.token, 0.0)
            assert late.status == "reused"
            assert (await f.store.use_refresh(replay.token, GRACE)).status == "invalid"
            assert await _live(f) == []

    asyncio.run(run())


def test_within_the_grace_the_superseded_token_is_still_a_retry(database_url: str) -> None:
    async def run() -> None:
        async with _family(database_url) as f:
            first = await f.store.use_refresh(f.token, GRACE)
            retry = await f.store.use_refresh(f.token, GRACE)
            assert first.token is not None and retry.token is not None
            again = await f.store.use_refresh(first.token, GRACE)
            assert (again.status, again.retried) == ("ok", True)
            assert len(await _live(f)) == 1
            assert (await f.store.use_refresh(retry.token, 0.0)).status == "reused"

    asyncio.run(run())


def test_refreshes_of_one_family_at_the_same_instant_leave_one_live_token(
    database_url: str,
) -> None:
    async def run() -> None:
        async with _family(database_url) as f:
            second = await f.store.use_refresh(f.token, GRACE)
            assert second.token is not None
            # Retries of the first token beside first uses and retries of the second.
            tokens = [f.token, second.token] * 4
            outcomes = await asyncio.gather(*(f.store.use_refresh(t, GRACE) for t in tokens))
            assert all(o.status == "ok" for o in outcomes), [o.status for o in outcomes]
            assert len(await _live(f)) == 1

    asyncio.run(run())
