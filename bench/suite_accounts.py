"""What account administration adds to the service's hot paths.

Two costs come with ``sealbox users`` acting on a running service:

- a one-worker service without Redis looks at the data folder's ``revocations.changed``
  (one ``stat``) before an authenticated request at most once a millisecond, so that a
  ``sealbox users disable`` in another process holds a millisecond after it on.
  Measured: revocation checks per second of
  :class:`~sealbox.accounts.revocation.LocalRevocations` watching the file against the
  same lists not watching it, alternated, and the difference per check set
  against one ``GET /users/me`` (from ``bench/results/service.json`` when it exists);
- a successful login records its time (``last_login_at``): one more ``UPDATE`` on
  SQLite, set against one login's password check with the default profile.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from bench._harness import RESULTS, Figure, Row, interleaved_rates, log, write_results
from sealbox.accounts.revocation import LocalRevocations, announce_change
from sealbox.accounts.store import Store
from sealbox.passwords import PasswordHasher
from sealbox.service.db import make_engine, migrate, sessionmaker

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

BATCH = 2000


def _users_me_seconds() -> float | None:
    """Seconds of one ``GET /users/me`` from the service suite's last results, if any."""
    try:
        doc = json.loads((RESULTS / "service.json").read_text())
    except (OSError, ValueError):
        return None
    for row in doc.get("rows", []):
        if row["name"].startswith("GET /users/me"):
            return 1 / float(row["sealbox"])
    return None


async def _open(folder: Path) -> tuple[Store, tuple[AsyncEngine, int]]:
    engine = make_engine(f"sqlite+aiosqlite:///{folder / 'bench.db'}")
    await migrate(engine)
    store = Store(sessionmaker(engine), refresh_ttl=3600)
    user = await store.create_user("bench", PasswordHasher("test").hash("bench password"), [])
    return store, (engine, user.id)


def main(quick: bool) -> None:
    rounds = 3 if quick else 9
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        loop = asyncio.new_event_loop()
        store, (engine, user_id) = loop.run_until_complete(_open(folder))
        changes = folder / "revocations.changed"
        announce_change(changes)
        plain = LocalRevocations(store)
        watching = LocalRevocations(store, watch=changes)
        loop.run_until_complete(plain.load())
        loop.run_until_complete(watching.load())

        def checks(revocations: LocalRevocations) -> Callable[[], object]:
            async def batch() -> None:
                for _ in range(BATCH):
                    await revocations.is_refused("jti-bench", user_id, 0, "family-bench")

            return lambda: loop.run_until_complete(batch())

        log("revocation checks, watching the changes file or not")
        rates = interleaved_rates(
            {"watch": checks(watching), "plain": checks(plain)}, rounds=rounds
        )
        watch_rate, plain_rate = rates["watch"] * BATCH, rates["plain"] * BATCH
        extra = 1 / watch_rate - 1 / plain_rate

        log("last-login update on SQLite")
        times = []
        for _ in range(50 if quick else 300):
            t0 = time.perf_counter()
            loop.run_until_complete(store.record_login(user_id))
            times.append(time.perf_counter() - t0)
        update = statistics.median(times)
        hasher = PasswordHasher()
        stored = hasher.hash("bench password")
        checks_s = []
        for _ in range(3 if quick else 7):
            t0 = time.perf_counter()
            hasher.verify(stored, "bench password")
            checks_s.append(time.perf_counter() - t0)
        password_check = statistics.median(checks_s)
        loop.run_until_complete(engine.dispose())
        loop.close()

    me = _users_me_seconds()
    rows = [
        Row(
            "revocation checks/s, one worker without Redis",
            "checks/s",
            watch_rate,
            plain_rate,
            "the same lists without watching revocations.changed",
            note="checks back to back, at most one stat of the changes file per millisecond",
        )
    ]
    figures = [
        Figure("extra cost of watching, per authenticated request", "us", extra * 1e6),
        Figure("last-login UPDATE per login, SQLite", "us", update * 1e6),
        Figure("password check, rfc9106-low-memory", "ms", password_check * 1e3),
        Figure(
            "last-login UPDATE against the password check",
            "%",
            100 * update / password_check,
        ),
    ]
    notes = [
        f"{BATCH} checks per sample, the two alternated over {rounds} rounds; medians.",
        (
            "A check that finds the changes file replaced reloads the lists from the database "
            "(only after a `sealbox users` change)."
        ),
    ]
    if me is not None:
        figures.append(
            Figure("watching against one GET /users/me (service.json)", "%", 100 * extra / me)
        )
    write_results("accounts", rows, figures, notes)
