"""Changes to one OAuth client started while another transaction holds its row on
PostgreSQL, as a change committing at that moment does: each must wait for it and build
on what it wrote."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["behind_a_locked_client", "blocked_by"]

T = TypeVar("T")


async def behind_a_locked_client(
    holder: AsyncEngine, name: str, start: Callable[[], list[asyncio.Future[T]]], what: str
) -> list[T]:
    """Lock client ``name``'s row through ``holder``, run ``start`` (the changes, each on
    its own connection), wait until every change waits for the lock, then commit; their
    results, in order. ``what`` names the changes in the failure message."""
    async with holder.connect() as lock:
        await lock.execute(
            text("SELECT 1 FROM oauth_clients WHERE name = :name FOR UPDATE"), {"name": name}
        )
        changes = start()
        waiting = 0
        for _ in range(600):  # up to half a minute for them all to reach the row
            if waiting == len(changes):
                break
            assert not any(c.done() for c in changes), [c.result() for c in changes]
            await asyncio.sleep(0.05)
            # The backends this holder blocks, never another test's, whatever else waits
            # on a lock in the database at the same time.
            waiting = await blocked_by(lock)
        assert waiting == len(changes), f"{waiting} {what} wait for the row"
        await lock.commit()
    return list(await asyncio.gather(*changes))


async def blocked_by(holder: AsyncConnection) -> int:
    """The backends ``holder`` blocks, directly or behind another waiter (row locks queue)."""
    # The activity view is read once per transaction, and the holder's stays open: without
    # a fresh read, the first count would be the only one.
    await holder.execute(text("SELECT pg_stat_clear_snapshot()"))
    return int(
        (
            await holder.execute(
                text(
                    "WITH RECURSIVE blocked(pid) AS ("
                    " SELECT pid FROM pg_stat_activity"
                    " WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))"
                    " UNION SELECT a.pid FROM pg_stat_activity a, blocked b"
                    " WHERE b.pid = ANY(pg_blocking_pids(a.pid)))"
                    " SELECT count(*) FROM blocked"
                )
            )
        ).scalar_one()
    )
