"""A refresh and a password change of the same account, at once, on PostgreSQL.

A change (password change, reset, disabling) writes the account's row, then revokes its
refresh tokens. A refresh holds that row (shared) from before it adds the next token of
its family until it commits: a change waits for it and then revokes the new token too,
or ended before and the refresh finds its token revoked. Without the hold, a change
whose revocation read the tokens while the refresh ran missed the token it added, and
the session outlived the password.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from sealbox.accounts.models import RefreshToken, now
from sealbox.accounts.store import Store, hash_refresh_token, revoke_refresh_tokens
from sealbox.service.db import make_engine, migrate, sessionmaker
from tests.service.conftest import private_shared_state


@dataclass
class _Account:
    engine: AsyncEngine
    store: Store
    user_id: int
    token: str  # its first refresh token
    family: str


@asynccontextmanager
async def _account(url: str, name: str) -> AsyncIterator[_Account]:
    """A migrated database with one account and one refresh family of it."""
    engine = make_engine(url)
    try:
        await migrate(engine)
        store = Store(sessionmaker(engine), refresh_ttl=3600)
        user = await store.create_user(name, "$argon2id$unused", ["users:me"])
        token, family = await store.issue_refresh(user.id, "users:me")
        yield _Account(engine, store, user.id, token, family)
    finally:
        await engine.dispose()


async def _live(engine: AsyncEngine, condition: ColumnElement[bool]) -> list[Any]:
    """The unrevoked refresh tokens that meet ``condition``."""
    async with sessionmaker(engine)() as session:
        rows = await session.execute(
            select(RefreshToken.id).where(condition, RefreshToken.revoked_at.is_(None))
        )
        return list(rows.all())


async def _rotating(rotation: AsyncConnection, account: _Account, next_token: str) -> None:
    """A refresh's rotation, left open: the family's tokens claimed, the next one added."""
    await rotation.execute(
        text("UPDATE refresh_tokens SET used_at = now() WHERE family_id = :f"),
        {"f": account.family},
    )
    await rotation.execute(
        text(
            "INSERT INTO refresh_tokens (token_hash, family_id, user_id, client_id, "
            "created_at, expires_at, scope) SELECT :h, family_id, user_id, client_id, "
            "now(), now() + interval '1 hour', scope FROM refresh_tokens "
            "WHERE token_hash = :first"
        ),
        {"h": hash_refresh_token(next_token), "first": hash_refresh_token(account.token)},
    )


async def _held_off(
    engine: AsyncEngine, hold: Callable[[AsyncConnection], Awaitable[None]], act: Awaitable[Any]
) -> Any:
    """``act``'s outcome, started while ``hold``'s uncommitted writes are held: it must
    wait for them (asserted), and finish once they commit."""
    async with engine.connect() as held:
        await hold(held)
        task = asyncio.ensure_future(act)
        await asyncio.sleep(0.5)
        assert not task.done(), "it went on under the held writes"
        await held.commit()
    return await task


def test_a_refresh_waits_for_a_change_of_the_account_and_then_finds_its_token_revoked() -> None:
    async def change(held: AsyncConnection, user_id: int) -> None:
        # A change's first step, held open: the account's row is written.
        await held.execute(
            text("UPDATE users SET session_version = session_version + 1 WHERE id = :u"),
            {"u": user_id},
        )

    async def run(url: str) -> None:
        async with _account(url, "racer") as a:
            async with a.engine.connect() as held:
                await change(held, a.user_id)
                refresh = asyncio.create_task(a.store.use_refresh(a.token))
                await asyncio.sleep(0.5)
                assert not refresh.done(), "the refresh went on under a change of the account"
                await held.execute(
                    text(
                        "UPDATE refresh_tokens SET revoked_at = now() "
                        "WHERE user_id = :u AND revoked_at IS NULL"
                    ),
                    {"u": a.user_id},
                )
                await held.commit()
            assert (await refresh).status == "invalid"
            assert await _live(a.engine, RefreshToken.user_id == a.user_id) == []

    # A database of its own (PostgreSQL reachable, else a skip, or a failure under CI).
    with private_shared_state("refresh_race") as shared:
        asyncio.run(run(shared["database_url"]))


def test_a_logout_racing_a_refresh_revokes_the_token_the_refresh_adds() -> None:
    """A logout (or a detected reuse) revokes a family while a refresh of it is rotating.

    The refresh has claimed its token and added the next one, uncommitted: the family's
    revocation waits for the claimed row, and a single ``UPDATE`` would then miss the new
    token (its snapshot is older than the refresh's commit). The logout answered done
    while the session went on, refreshed from the token the refresh answered.
    """

    async def run(url: str) -> None:
        async with _account(url, "racer2") as a:
            logout = a.store.revoke_family_of(a.token, a.user_id)
            assert (
                await _held_off(a.engine, lambda held: _rotating(held, a, "sbr_next"), logout)
                == a.family
            )
            assert (await a.store.use_refresh("sbr_next")).status == "invalid"
            assert await _live(a.engine, RefreshToken.family_id == a.family) == []

    with private_shared_state("logout_race") as shared:
        asyncio.run(run(shared["database_url"]))


def test_revoking_a_clients_tokens_racing_a_refresh_revokes_the_token_the_refresh_adds() -> None:
    """What ``/auth/revoke`` and a client's deletion revoke (by family, by client) goes
    through :func:`revoke_refresh_tokens`, which repeats until nothing is left: a single
    ``UPDATE`` under a refresh's open rotation missed the token it added."""

    async def revoke(engine: AsyncEngine, condition: ColumnElement[bool]) -> None:
        async with sessionmaker(engine).begin() as session:
            await revoke_refresh_tokens(session, condition, now())

    async def run(url: str) -> None:
        async with _account(url, "racer3") as a:
            async with a.engine.begin() as setup:
                await setup.execute(
                    text("UPDATE refresh_tokens SET client_id = 'sbc_x' WHERE family_id = :f"),
                    {"f": a.family},
                )
            by_family, by_client = (
                RefreshToken.family_id == a.family,
                RefreshToken.client_id == "sbc_x",
            )
            for n, condition in enumerate((by_family, by_client)):
                await _held_off(
                    a.engine,
                    lambda held, n=n: _rotating(held, a, f"sbr_next_{n}"),
                    revoke(a.engine, condition),
                )
                assert await _live(a.engine, by_family) == []
                async with a.engine.begin() as reset:  # live again, for the next condition
                    await reset.execute(
                        text("UPDATE refresh_tokens SET revoked_at = NULL WHERE family_id = :f"),
                        {"f": a.family},
                    )

    with private_shared_state("client_revoke_race") as shared:
        asyncio.run(run(shared["database_url"]))
