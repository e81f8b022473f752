"""Rotating a client's secret while another rotation of it runs (the command line beside
the service, two administrators): each rotation builds on the one before, so at most the
last two secrets work and the secret both replaced does not linger."""

from __future__ import annotations

import asyncio

from sealbox.accounts.clients import ClientStore, NewSecret
from sealbox.accounts.database import make_engine, migrate, sessionmaker
from tests.service._row_lock import behind_a_locked_client
from tests.service.conftest import private_shared_state

ROTATIONS = 4


async def _rotate_while_the_row_is_locked(url: str) -> tuple[str, str, list[NewSecret]]:
    holder = make_engine(url)
    engines = [make_engine(url) for _ in range(ROTATIONS)]
    try:
        await migrate(holder)
        stores = [ClientStore(sessionmaker(engine)) for engine in engines]
        made = await stores[0].create("reporting", ["users:me"])
        assert made.secret is not None
        # Every rotation starts while another transaction holds the row, as a rotation
        # committing at that moment does: each must wait for it and build on what it
        # wrote.
        rotated = await behind_a_locked_client(
            holder,
            "reporting",
            lambda: [
                asyncio.ensure_future(store.rotate_secret("reporting", overlap=3600))
                for store in stores
            ],
            "rotations",
        )
        return made.client.client_id, made.secret.expose_secret(), rotated
    finally:
        for engine in [holder, *engines]:
            await engine.dispose()


async def _works(url: str, client_id: str, secret: str) -> bool:
    engine = make_engine(url)
    try:
        return (
            await ClientStore(sessionmaker(engine)).authenticate_secret(client_id, secret)
            is not None
        )
    finally:
        await engine.dispose()


def test_concurrent_rotations_keep_two_secrets_and_end_the_one_they_all_replaced() -> None:
    with private_shared_state("rotations") as shared:
        url = shared["database_url"]
        client_id, original, rotated = asyncio.run(_rotate_while_the_row_is_locked(url))
        secrets = [r.secret.expose_secret() for r in rotated if r.secret is not None]
        assert len(set(secrets)) == ROTATIONS
        # The original secret was replaced by the first rotation, and the overlap of a
        # secret ends at the next one: after four it must not work.
        assert not asyncio.run(_works(url, client_id, original))
        working = [s for s in secrets if asyncio.run(_works(url, client_id, s))]
        assert len(working) == 2  # the newest, and the one before it in its overlap
