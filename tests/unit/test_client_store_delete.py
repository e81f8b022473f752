"""``ClientStore.delete`` with the ``client_id`` revoked removes that client only: one made
anew under the same name after the revocation is left in place."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sealbox.accounts.clients import ClientNotFoundError, ClientStore
from sealbox.service.db import make_engine, migrate, sessionmaker


def test_delete_with_a_client_id_removes_only_the_client_that_has_it(tmp_path: Path) -> None:
    async def run() -> None:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
        try:
            await migrate(engine)
            store = ClientStore(sessionmaker(engine))
            first = (await store.create("svc", ["users:me"])).client
            await store.delete("svc", client_id=first.client_id)
            again = (await store.create("svc", ["users:me"])).client
            with pytest.raises(ClientNotFoundError) as refused:
                await store.delete("svc", client_id=first.client_id)
            assert refused.value.code == "client_not_found"
            assert [c.client_id for c in await store.list()] == [again.client_id]
            gone = await store.delete("svc", client_id=again.client_id)
            assert gone.client_id == again.client_id
            assert await store.list() == []
        finally:
            await engine.dispose()

    asyncio.run(run())
