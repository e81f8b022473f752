"""Granting scopes to a client while other grants of it run (the command line beside the
service, two administrators): each change builds on the one before, none is lost."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from sealbox.accounts.clients import ClientInfo, ClientStore
from sealbox.accounts.database import make_engine, migrate, sessionmaker
from tests.service.conftest import private_shared_state

GRANTS = 4


async def _grant_while_the_row_is_locked(url: str) -> ClientInfo:
    holder = make_engine(url)
    engines = [make_engine(url) for _ in range(GRANTS)]
    try:
        await migrate(holder)
        stores = [ClientStore(sessionmaker(engine)) for engine in engines]
        await stores[0].create("reporting", ["users:me"])
        async with holder.connect() as lock:
            await lock.execute(
                text("SELECT 1 FROM oauth_clients WHERE name = 'reporting' FOR UPDATE")
            )
            # Every grant starts while another transaction holds the row, as a change
            # committing at that moment does: each must wait for it and build on it.
            grants = [
                asyncio.ensure_future(store.grant("reporting", [f"transit:encrypt:k{n}"]))
                for n, store in enumerate(stores)
            ]
            waiting = 0
            for _ in range(600):  # up to half a minute for them all to reach the row
                if waiting == GRANTS:
                    break
                assert not any(g.done() for g in grants), [g.result() for g in grants]
                await asyncio.sleep(0.05)
                waiting = (
                    await lock.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                            "current_database() AND wait_event_type = 'Lock'"
                        )
                    )
                ).scalar_one()
            assert waiting == GRANTS, f"{waiting} grants wait for the row"
            await lock.commit()
        await asyncio.gather(*grants)
        return await stores[0].get("reporting")
    finally:
        for engine in [holder, *engines]:
            await engine.dispose()


def test_concurrent_grants_to_one_client_all_hold() -> None:
    with private_shared_state("scope-races") as shared:
        client = asyncio.run(_grant_while_the_row_is_locked(shared["database_url"]))
    assert client.scopes == (*(f"transit:encrypt:k{n}" for n in range(GRANTS)), "users:me")
