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

from sealbox.accounts.models import RefreshToken, now
from sealbox.accounts.store import Store, hash_refresh_token, revoke_refresh_tokens
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


def test_a_logout_racing_a_refresh_revokes_the_token_the_refresh_adds() -> None:
    """A logout (or a detected reuse) revokes a family while a refresh of it is rotating.

    The refresh has claimed its token and added the next one, uncommitted: the family's
    revocation waits for the claimed row, and a single ``UPDATE`` would then miss the new
    token (its snapshot is older than the refresh's commit). The logout answered done
    while the session went on, refreshed from the token the refresh answered.
    """

    async def run(url: str) -> None:
        engine = make_engine(url)
        try:
            await migrate(engine)
            store = Store(sessionmaker(engine), refresh_ttl=3600)
            user = await store.create_user("racer2", "$argon2id$unused", ["users:me"])
            token, family = await store.issue_refresh(user.id, "users:me")
            async with engine.connect() as rotation:
                # A refresh's rotation, held open: the token claimed, the next one added.
                await rotation.execute(
                    text("UPDATE refresh_tokens SET used_at = now() WHERE token_hash = :h"),
                    {"h": hash_refresh_token(token)},
                )
                await rotation.execute(
                    text(
                        "INSERT INTO refresh_tokens (token_hash, family_id, user_id, "
                        "created_at, expires_at, scope) VALUES (:h, :f, :u, now(), "
                        "now() + interval '1 hour', 'users:me')"
                    ),
                    {"h": hash_refresh_token("sbr_next"), "f": family, "u": user.id},
                )
                logout = asyncio.create_task(store.revoke_family_of(token, user.id))
                await asyncio.sleep(0.5)
                assert not logout.done(), "the revocation went on under a rotation"
                await rotation.commit()
            assert await logout == family
            assert (await store.use_refresh("sbr_next")).status == "invalid"
            async with sessionmaker(engine)() as session:
                live = (
                    await session.execute(
                        select(RefreshToken.id).where(
                            RefreshToken.family_id == family, RefreshToken.revoked_at.is_(None)
                        )
                    )
                ).all()
            assert live == []
        finally:
            await engine.dispose()

    with private_shared_state("logout_race") as shared:
        asyncio.run(run(shared["database_url"]))


def test_revoking_a_clients_tokens_racing_a_refresh_revokes_the_token_the_refresh_adds() -> None:
    """What ``/auth/revoke`` and a client's deletion revoke (by family, by client) goes
    through :func:`revoke_refresh_tokens`, which repeats until nothing is left: a single
    ``UPDATE`` under a refresh's open rotation missed the token it added."""

    async def run(url: str) -> None:
        engine = make_engine(url)
        try:
            await migrate(engine)
            store = Store(sessionmaker(engine), refresh_ttl=3600)
            user = await store.create_user("racer3", "$argon2id$unused", ["users:me"])
            _token, family = await store.issue_refresh(user.id, "users:me")
            async with engine.begin() as setup:
                await setup.execute(
                    text("UPDATE refresh_tokens SET client_id = 'sbc_x' WHERE family_id = :f"),
                    {"f": family},
                )
            by_family, by_client = (
                RefreshToken.family_id == family,
                RefreshToken.client_id == "sbc_x",
            )
            for n, condition in enumerate((by_family, by_client)):
                async with engine.connect() as rotation:
                    await rotation.execute(
                        text("UPDATE refresh_tokens SET used_at = now() WHERE family_id = :f"),
                        {"f": family},
                    )
                    next_hash = hash_refresh_token(f"sbr_next_{n}")
                    await rotation.execute(
                        text(
                            "INSERT INTO refresh_tokens (token_hash, family_id, user_id, "
                            "client_id, created_at, expires_at, scope) VALUES (:h, :f, :u, "
                            "'sbc_x', now(), now() + interval '1 hour', 'users:me')"
                        ),
                        {"h": next_hash, "f": family, "u": user.id},
                    )

                    async def revoke(condition=condition) -> None:
                        async with sessionmaker(engine).begin() as session:
                            await revoke_refresh_tokens(session, condition, now())

                    revoking = asyncio.create_task(revoke())
                    await asyncio.sleep(0.5)
                    assert not revoking.done(), "the revocation went on under a rotation"
                    await rotation.commit()
                await revoking
                async with sessionmaker(engine)() as session:
                    live = (
                        await session.execute(
                            select(RefreshToken.id).where(
                                RefreshToken.family_id == family, RefreshToken.revoked_at.is_(None)
                            )
                        )
                    ).all()
                assert live == []
                async with engine.begin() as reset:  # live again, for the next condition
                    await reset.execute(
                        text("UPDATE refresh_tokens SET revoked_at = NULL WHERE family_id = :f"),
                        {"f": family},
                    )
        finally:
            await engine.dispose()

    with private_shared_state("client_revoke_race") as shared:
        asyncio.run(run(shared["database_url"]))
