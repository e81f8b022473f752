"""A request naming a version newer than a worker's snapshot never settles for a read of
the key that began before the request arrived.

Two stores on one SQLite file stand for two workers without announcements between them
(several hosts without Redis, or a Redis outage). The worker's first read of the key is
held after it has read the database, while the other worker rotates and encrypts with
the new version; a decryption that arrives after that rotation must see it, not join
the read under way, whose key knows only the older versions.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from sealbox.service.db import make_engine, migrate, sessionmaker
from sealbox.service.transit_store import TransitStore
from sealbox.transit.keys import TransitKey


class HeldStore(TransitStore):
    """The real store; its first read of the database is held (once read) until released."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.read_done = asyncio.Event()
        self.release = asyncio.Event()
        self.reads = 0

    async def _read(self, name: str) -> TransitKey:
        key = await super()._read(name)
        self.reads += 1
        if self.reads == 1:
            self.read_done.set()
            await self.release.wait()
        return key


def test_a_version_rotated_elsewhere_before_a_request_is_seen_despite_an_older_read(
    tmp_path: Path,
) -> None:
    async def run() -> None:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
        try:
            await migrate(engine)
            master = os.urandom(32)
            worker = HeldStore(sessionmaker(engine), master)
            elsewhere = TransitStore(sessionmaker(engine), master)
            await elsewhere.create("k", "aes256-gcm")

            # A request of the worker reads the key (version 1 only) and is held there.
            first = asyncio.create_task(worker.get("k"))
            await worker.read_done.wait()

            # Meanwhile the other worker rotates and encrypts with version 2.
            rotated, made = await elsewhere.rotate("k")
            assert made == 2
            ciphertext, version = rotated.encrypt(b"after the rotation")
            assert version == 2

            # A decryption arrives at the worker after that, naming version 2.
            arrived = time.monotonic()
            second = asyncio.create_task(worker.get("k", version=2, fresh_since=arrived))
            await asyncio.sleep(0)  # it reaches the worker while the first read is held
            worker.release.set()

            assert (await first).latest_version >= 1
            key = await second
            assert key.latest_version == 2
            assert key.decrypt(ciphertext) == b"after the rotation"
        finally:
            await engine.dispose()

    asyncio.run(run())
