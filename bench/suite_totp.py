"""What the TOTP second factor adds to a login, in process, on SQLite and PostgreSQL.

A login of an account with a second factor does, after the password check, one more
short transaction (:meth:`TotpStore.check_login`: read the account's row, open the sealed
secret, compute the codes of three steps, move ``last_step`` forward with one
conditional ``UPDATE``). The anchor is the read every login already does
(``Store.user_for_login``), measured alternately in the same run; the code check's own
CPU is set beside the default profile's password check, which dominates a login.
Every measured check is an accepted code: the injected clock moves one step per call.
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench._harness import Figure, Row, interleaved_rates, log, write_results
from sealbox.accounts.store import Store
from sealbox.accounts.totp import PERIOD, TotpSecretSealer, decode_secret, match_step, totp
from sealbox.accounts.totp_store import TotpStore
from sealbox.passwords import PasswordHasher
from sealbox.service.db import make_engine, migrate, sessionmaker
from sealbox.service.settings import ServiceSettings

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PASSWORD = "bench totp password"


class _Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _postgres_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


async def _admin(statement: str) -> None:
    import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information

    conn = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def _pair(
    loop: asyncio.AbstractEventLoop, url: str
) -> tuple[Callable[[], object], Callable[[], object], Any]:
    """(a second-factor check, the login's user read, the engine) on a fresh database."""
    engine = make_engine(url)
    loop.run_until_complete(migrate(engine))
    sessions = sessionmaker(engine)
    store = Store(sessions, refresh_ttl=3600)
    user = loop.run_until_complete(store.create_user("bench-totp", "x", []))
    clock = _Clock()
    totps = TotpStore(sessions, TotpSecretSealer(os.urandom(32)), clock=clock)
    enrolment = loop.run_until_complete(totps.begin(user.id, user.username))
    key = decode_secret(enrolment.secret)
    loop.run_until_complete(totps.confirm(user.id, totp(key, clock.now)))

    def check() -> None:
        clock.now += PERIOD
        loop.run_until_complete(totps.check_login(user.id, totp(key, clock.now)))

    def read() -> None:
        loop.run_until_complete(store.user_for_login("bench-totp"))

    return check, read, engine


def _code_cpu(n: int) -> float:
    """CPU seconds of one code check without the database: unseal, three HOTPs."""
    sealer = TotpSecretSealer(os.urandom(32))
    key = os.urandom(20)
    sealed = sealer.seal(1, key)
    start = time.process_time()
    for i in range(n):
        now = 1_800_000_000 + i * PERIOD
        match_step(sealer.open(1, sealed), totp(key, now), now)
    return (time.process_time() - start) / n


def _verify_seconds(profile: str) -> float:
    hasher = PasswordHasher(profile)
    stored = hasher.hash(PASSWORD)
    start = time.process_time()
    for _ in range(3):
        hasher.verify(stored, PASSWORD)
    return (time.process_time() - start) / 3


def main(quick: bool = False) -> None:
    seconds, rounds = (0.2, 3) if quick else (0.5, 9)
    rows: list[Row] = []
    profile = ServiceSettings.model_fields["password_profile"].default
    verify = _verify_seconds(profile)
    loop = asyncio.new_event_loop()
    work = Path(tempfile.mkdtemp(prefix="sealbox-bench-totp-"))
    # (name, URL, the PostgreSQL database created for the run, if any)
    backends: list[tuple[str, str, str | None]] = [
        ("SQLite", f"sqlite+aiosqlite:///{work / 'bench.db'}", None)
    ]
    if _postgres_up():
        db = f"sealbox_bench_totp_{os.getpid()}"
        loop.run_until_complete(_admin(f'CREATE DATABASE "{db}"'))
        backends.append(("PostgreSQL", f"postgresql+asyncpg://postgres@127.0.0.1:5432/{db}", db))
    try:
        for name, url, _db in backends:
            check, read, engine = _pair(loop, url)
            rates = interleaved_rates(
                {"check": check, "read": read}, seconds=seconds, rounds=rounds
            )
            loop.run_until_complete(engine.dispose())
            rows.append(
                Row(
                    f"second-factor check of a login (accepted code), {name}",
                    "ops/s",
                    rates["check"],
                    rates["read"],
                    "the user read every login does",
                    note=(
                        f"{name}: {1e3 / rates['check']:.2f} ms per check, "
                        f"{1 / rates['check'] / verify:.1%} of one {profile} password check"
                    ),
                )
            )
            log(f"totp {name}: {rates['check']:.0f} checks/s, {rates['read']:.0f} reads/s")
    finally:
        for _name, _url, created in backends:
            if created:
                loop.run_until_complete(_admin(f'DROP DATABASE IF EXISTS "{created}" WITH (FORCE)'))
        loop.close()
    cpu = _code_cpu(500 if quick else 5000)
    figures = [
        Figure(
            "code check CPU (unseal the secret, three HOTP values)",
            "us",
            cpu * 1e6,
            f"{cpu / verify:.3%} of one {profile} password check",
        ),
        Figure(f"password check, {profile}", "ms", verify * 1e3),
    ]
    path = write_results(
        "totp",
        rows,
        figures,
        notes=[
            "In process, one event loop; the pair is measured alternately, medians of rounds.",
            (
                "The figures move with the load of the machine: three runs on a shared 2-core "
                "machine gave ratios of 0.39 to 0.58 (SQLite) and 0.23 to 0.41 (PostgreSQL), "
                "and 5 to 13 ms per check."
            ),
            (
                "The check is one transaction (a read, then a conditional UPDATE that commits); "
                "the anchor is a single read, so the ratio is roughly the cost of a write."
            ),
        ],
    )
    log(f"totp: wrote {path}")
