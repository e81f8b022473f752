"""Two workers changing one key at once (two stores on one SQLite file): each change is
checked against the key as it is when the change is written, not as it was read."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from sealbox.exceptions import KeyNotFoundError
from sealbox.service.db import make_engine, migrate, sessionmaker
from sealbox.service.transit_store import TransitStore
from sealbox.transit.errors import DeletionNotAllowedError

ROUNDS = 20


async def _two_workers(tmp_path: Path) -> tuple[object, TransitStore, TransitStore]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    await migrate(engine)
    master = os.urandom(32)
    return (
        engine,
        TransitStore(sessionmaker(engine), master),
        TransitStore(sessionmaker(engine), master),
    )


def test_concurrent_configures_never_leave_min_encryption_below_min_decryption(
    tmp_path: Path,
) -> None:
    # Each change alone keeps the rules (min_decryption 3; min_encryption 2 while
    # min_decryption is 1); both at once must not give min_encryption 2 < min_decryption 3.
    async def run() -> list[tuple[int, int]]:
        engine, a, b = await _two_workers(tmp_path)
        broken = []
        try:
            await a.create("k", "aes256-gcm")
            for _ in range(3):
                await a.rotate("k")
            for _ in range(ROUNDS):
                await a.configure("k", min_decryption_version=1, min_encryption_version=0)
                await asyncio.gather(
                    a.configure("k", min_decryption_version=3),
                    b.configure("k", min_encryption_version=2),
                    return_exceptions=True,
                )
                a.invalidate(None)
                key = await a.get("k")
                low, floor = key.min_decryption_version, key.min_encryption_version
                if floor and floor < low:
                    broken.append((low, floor))
        finally:
            await engine.dispose()  # type: ignore[attr-defined]
        return broken

    assert asyncio.run(run()) == []


def test_a_delete_racing_a_forbidding_configure_never_deletes_a_protected_key(
    tmp_path: Path,
) -> None:
    # Either the delete comes first (the configure then finds no key) or the configure
    # does (the delete is then refused): never both succeeding.
    async def run() -> list[int]:
        engine, a, b = await _two_workers(tmp_path)
        both = []
        try:
            for i in range(ROUNDS):
                name = f"k{i}"
                await a.create(name, "aes256-gcm")
                await a.configure(name, deletion_allowed=True)
                deleted, forbidden = await asyncio.gather(
                    a.delete(name),
                    b.configure(name, deletion_allowed=False),
                    return_exceptions=True,
                )
                for outcome in (deleted, forbidden):
                    if isinstance(outcome, BaseException):
                        assert isinstance(outcome, (DeletionNotAllowedError, KeyNotFoundError))
                if not isinstance(deleted, BaseException) and not isinstance(
                    forbidden, BaseException
                ):
                    both.append(i)
        finally:
            await engine.dispose()  # type: ignore[attr-defined]
        return both

    assert asyncio.run(run()) == []
