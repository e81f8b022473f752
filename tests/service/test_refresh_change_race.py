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

from sqlalchemy import select, text

from sealbox.accounts.models import RefreshToken
from sealbox.accounts.store import Store
from sealbox.service.db import make_engine, migrate, sessionmaker
from tests.service.conftest import private_shared_state


def test_a_refresh_waits_for_a_change_of_the_account_and_then_finds_its_token_revoked() -> None:
    async def run(url: str) -> None:
        engine = make_engine(url)
        try:
            await migrate(engine)
            store = Store(sessionmaker(engine), refresh_ttl=3600)
            user = await store.create_user("racer", "$argon2id$unused", ["users:me"])
            token, _ = await store.issue_refresh(user.id, "users:me")
            async with engine.connect() as change:
                # A change's first step, held open: the account's row is written.
                await change.execute(
                    text("UPDATE users SET session_version = session_version + 1 WHERE id = :u"),
                    {"u": user.id},
                )
                refresh = asyncio.create_task(store.use_refresh(token))
                await asyncio.sleep(0.5)
                assert not refresh.done(), "the refresh went on under a change of the account"
                await change.execute(
                    text(
                        "UPDATE refresh_tokens SET revoked_at = now() "
                        "WHERE user_id = :u AND revoked_at IS NULL"
                    ),
                    {"u": user.id},
                )
                await change.commit()
            outcome = await refresh
            assert outcome.status == "invalid"
            async with sessionmaker(engine)() as session:
                live = (
                    await session.execute(
                        select(RefreshToken.id).where(
                            RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None)
                        )
                    )
                ).all()
            assert live == []
        finally:
            await engine.dispose()

    # A database of its own (PostgreSQL reachable, else a skip, or a failure under CI).
    with private_shared_state("refresh_race") as shared:
        asyncio.run(run(shared["database_url"]))
