"""``run_accounts``: a scenario on new accounts over a migrated SQLite file, for tests that
call the accounts library directly (no service); ``run_accounts_on``: the same on SQLite or
on PostgreSQL with Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sealbox.accounts import AccountPolicy, Accounts, make_engine, migrate
from sealbox.jwt import SigningKeySet
from sealbox.passwords import PasswordHasher

__all__ = ["run_accounts", "run_accounts_on"]


def run_accounts(
    tmp_path: Path,
    scenario: Callable[[Accounts], Awaitable[None]],
    policy: AccountPolicy | None = None,
    *,
    hasher: PasswordHasher | None = None,
    **options: Any,
) -> None:
    """Run ``scenario(accounts)`` on new accounts (cheap Argon2; ``options`` go to
    ``Accounts.open``; ``hasher`` replaces the accounts' own once open)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'accounts.db'}"
    asyncio.run(_run(url, scenario, policy, hasher, **options))


def run_accounts_on(
    backend: str,
    tmp_path: Path,
    scenario: Callable[[Accounts], Awaitable[None]],
    policy: AccountPolicy | None = None,
    *,
    name: str,
) -> None:
    """``scenario`` on SQLite (counters in memory), or on PostgreSQL with Redis (a database
    and key prefix of its own, named after ``name`` and the test's folder)."""
    if backend == "sqlite":
        run_accounts(tmp_path, scenario, policy)
        return
    from tests.service.conftest import private_shared_state

    with private_shared_state(f"{name}_{tmp_path.name[-8:]}".lower()) as shared:
        redis = {"redis_url": shared["redis_url"], "redis_prefix": shared["redis_prefix"]}
        asyncio.run(_run(shared["database_url"], scenario, policy, None, **redis))


async def _run(
    url: str,
    scenario: Callable[[Accounts], Awaitable[None]],
    policy: AccountPolicy | None,
    hasher: PasswordHasher | None,
    **options: Any,
) -> None:
    engine = make_engine(url)
    await migrate(engine)
    accounts = await Accounts.open(
        engine,
        SigningKeySet.generate("EdDSA"),
        policy if policy is not None else AccountPolicy(),
        password_profile="test",
        **options,
    )
    if hasher is not None:
        accounts.hasher = hasher
    try:
        await scenario(accounts)
    finally:
        await accounts.close()
        await engine.dispose()
