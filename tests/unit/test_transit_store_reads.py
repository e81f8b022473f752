"""``TransitStore.get`` reads a key again for a version newer than its snapshot, once per
request: a batch naming many versions above the latest costs one read, not one each,
and a version rotated elsewhere before the request arrived is still seen."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path

from sealbox.service.db import make_engine, migrate, sessionmaker
from sealbox.service.transit_store import TransitStore
from sealbox.transit.keys import TransitKey


class CountingStore(TransitStore):
    """The real store, counting its reads of the database."""

    reads = 0

    async def _read(self, name: str) -> TransitKey:
        self.reads += 1
        return await super()._read(name)


def test_one_request_reads_a_key_once_however_many_newer_versions_it_names(
    tmp_path: Path,
) -> None:
    async def run() -> None:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
        try:
            await migrate(engine)
            master = os.urandom(32)
            worker = CountingStore(sessionmaker(engine), master)
            elsewhere = TransitStore(sessionmaker(engine), master)  # another worker
            await worker.create("k", "aes256-gcm")
            await worker.get("k")
            before = worker.reads

            arrived = time.monotonic()
            for version in range(2, 60):
                key = await worker.get("k", version=version, fresh_since=arrived)
                assert key.latest_version == 1
            assert worker.reads - before == 1

            # A rotation made elsewhere before the next request arrived is seen by it.
            await elsewhere.rotate("k")
            arrived = time.monotonic()
            key = await worker.get("k", version=2, fresh_since=arrived)
            assert key.latest_version == 2
            assert worker.reads - before == 2
            for version in range(3, 60):
                await worker.get("k", version=version, fresh_since=arrived)
            assert worker.reads - before == 2

            # Without the request's arrival, every newer version reads again.
            await worker.get("k", version=3)
            await worker.get("k", version=4)
            assert worker.reads - before == 4
        finally:
            await engine.dispose()

    asyncio.run(run())


def test_a_lost_announcement_subscription_is_logged_once_per_outage(caplog) -> None:
    import logging
    import socket

    from sealbox.service.transit_store import RedisKeyEvents

    with socket.socket() as s:  # a port nothing listens on: Redis is down
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def run() -> int:
        events = RedisKeyEvents(f"redis://127.0.0.1:{port}/0")
        changes: list[str | None] = []
        # start() waits up to 5 s for a subscription that never comes: stopped at the
        # fourth try instead (each try that fails is one change, None).
        starting = asyncio.create_task(events.start(changes.append))
        deadline = time.monotonic() + 60  # a guard against a hang, not a measure
        while len(changes) < 4:
            assert time.monotonic() < deadline, changes
            await asyncio.sleep(0.02)
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        await events.close()
        return len(changes)

    with caplog.at_level(logging.DEBUG, logger="sealbox.service"):
        tries = asyncio.run(run())
    lost = [r for r in caplog.records if "subscription lost" in r.getMessage()]
    assert tries >= 4 and len(lost) == tries
    assert [r.levelno for r in lost] == [logging.WARNING] + [logging.DEBUG] * (tries - 1)
