"""`sealbox clients delete` racing a password login through the client, on PostgreSQL: the
login that stores its family while the deletion runs ends with the client.

The interleaving is made with real locks, not timing: the test holds the refresh-token
table, so the login stops while it holds the client's row (its family written, not yet
committed); the deletion then reads the client's families (not that one), refuses them,
and waits for the row; the test lets both go on.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from sealbox.accounts.clients import ClientStore
from sealbox.accounts.models import RefreshToken
from sealbox.accounts.revocation import LocalRevocations
from sealbox.accounts.store import Store
from sealbox.service.admin import create_user
from sealbox.service.client_admin import create_client, delete_client
from sealbox.service.db import make_engine, sessionmaker
from tests.service._row_lock import blocked_by
from tests.service.conftest import make_settings, private_shared_state


async def _until_blocked(holder: AsyncConnection, count: int, pending: list[Any]) -> None:
    for _ in range(1200):  # a guard against a hang, not a measure
        if await blocked_by(holder) >= count:
            return
        assert not any(p.done() for p in pending), [p.result() for p in pending]
        await asyncio.sleep(0.025)
    raise AssertionError(f"fewer than {count} backends wait for the test's lock")


def test_a_login_through_a_client_committing_while_it_is_deleted_ends_with_it(
    tmp_path: Path,
) -> None:
    with private_shared_state("cdel") as shared:
        # The command line's own way to tell a running service: the database and the
        # data folder's changes file (no Redis here).
        settings = make_settings(tmp_path / "data", database_url=shared["database_url"])
        create_client(settings, "reporting", ["reports:read"])
        create_user(settings, "bob", lambda _name: "correct horse battery")
        url = settings.resolved_database_url()

        async def run() -> tuple[bool, bool]:
            engine = make_engine(url)
            try:
                store = Store(sessionmaker(engine), refresh_ttl=600)
                client = await ClientStore(store.sessions).get("reporting")
                user = await store.user_by_name("bob")
                assert user is not None
                async with engine.connect() as holder:
                    await holder.execute(text("LOCK TABLE refresh_tokens IN SHARE MODE"))
                    # The login's last step, as the token endpoint makes it for a client
                    # that authenticated at its current version.
                    login = asyncio.ensure_future(
                        store.issue_refresh(
                            user.id,
                            "users:me",
                            session_version=user.session_version,
                            client_id=client.client_id,
                            client_version=client.session_version,
                        )
                    )
                    await _until_blocked(holder, 1, [login])
                    deleting = asyncio.ensure_future(
                        asyncio.to_thread(delete_client, settings, "reporting")
                    )
                    await _until_blocked(holder, 2, [login, deleting])
                    await holder.commit()
                _token, family = await login
                await deleting
                async with store.sessions() as session:
                    revoked = (
                        await session.execute(
                            select(RefreshToken.revoked_at).where(RefreshToken.family_id == family)
                        )
                    ).scalar_one()
                lists = LocalRevocations(store)
                await lists.load()
                refused = await lists.is_refused("a-jti", user.id, user.session_version, family)
                return revoked is not None, refused
            finally:
                await engine.dispose()

        family_revoked, access_refused = asyncio.run(run())
        assert family_revoked, "the login's refresh family outlived the client"
        assert access_refused, "the login's access tokens outlived the client"
