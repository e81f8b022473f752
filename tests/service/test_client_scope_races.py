"""Granting scopes to a client while other grants of it run (the command line beside the
service, two administrators): each change builds on the one before, none is lost."""

from __future__ import annotations

import asyncio

from sealbox.accounts.clients import ClientInfo, ClientStore
from sealbox.accounts.database import make_engine, migrate, sessionmaker
from tests.service._row_lock import behind_a_locked_client
from tests.service.conftest import private_shared_state

GRANTS = 4


async def _grant_while_the_row_is_locked(url: str) -> ClientInfo:
    holder = make_engine(url)
    engines = [make_engine(url) for _ in range(GRANTS)]
    try:
        await migrate(holder)
        stores = [ClientStore(sessionmaker(engine)) for engine in engines]
        await stores[0].create("reporting", ["users:me"])
        # Every grant starts while another transaction holds the row, as a change
        # committing at that moment does: each must wait for it and build on it.
        await behind_a_locked_client(
            holder,
            "reporting",
            lambda: [
                asyncio.ensure_future(store.grant("reporting", [f"transit:encrypt:k{n}"]))
                for n, store in enumerate(stores)
            ],
            "grants",
        )
        return await stores[0].get("reporting")
    finally:
        for engine in [holder, *engines]:
            await engine.dispose()


def test_concurrent_grants_to_one_client_all_hold() -> None:
    with private_shared_state("scope-races") as shared:
        client = asyncio.run(_grant_while_the_row_is_locked(shared["database_url"]))
    assert client.scopes == (*(f"transit:encrypt:k{n}" for n in range(GRANTS)), "users:me")
