"""Administrators at the same time: no change to an account is lost, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sealbox.accounts.admin import AccountAdmin, LastHolderError
from sealbox.accounts.revocation import LocalRevocations
from sealbox.accounts.store import Store
from sealbox.passwords import PasswordHasher
from sealbox.service.db import make_engine, migrate, sessionmaker
from tests.service.conftest import make_settings


def _database_url(tmp_path: Path, backend: dict[str, Any]) -> str:
    """The database of a data folder of the test's, on ``backend``."""
    settings = make_settings(tmp_path / "data", **backend)
    settings.data_dir.mkdir(parents=True)
    return settings.resolved_database_url()


def _admins(engines: list[Any], hasher: PasswordHasher, **options: Any) -> list[AccountAdmin]:
    """One administrator per engine, as separate `sealbox users` processes are."""
    admins = []
    for engine in engines:
        store = Store(sessionmaker(engine), refresh_ttl=60)
        admins.append(
            AccountAdmin(store, LocalRevocations(store), hasher, access_token_ttl=60, **options)
        )
    return admins


def test_concurrent_grants_and_a_disable_from_separate_engines_all_hold(
    tmp_path: Path, backend: dict[str, Any]
) -> None:
    url = _database_url(tmp_path, backend)
    hasher = PasswordHasher("test")

    async def run() -> tuple[list[str], bool, int]:
        # One engine per administrator, as separate `sealbox users` processes have.
        engines = [make_engine(url) for _ in range(9)]
        try:
            await migrate(engines[0])
            admins = _admins(engines, hasher)
            await admins[0].store.create_user("target", hasher.hash("target password"), [])
            await asyncio.gather(
                *(a.grant("target", [f"scope:{i}"]) for i, a in enumerate(admins[1:])),
                admins[0].disable("target"),
            )
            final = await admins[0].show("target")
            user = await admins[0].store.user_by_name("target")
            assert user is not None
            return list(final.scopes), final.disabled, user.session_version
        finally:
            for engine in engines:
                await engine.dispose()

    scopes, disabled, version = asyncio.run(run())
    assert scopes == [f"scope:{i}" for i in range(8)]
    assert disabled is True
    assert version == 1


def test_two_last_administrators_disabling_each_other_at_once_leave_one_enabled(
    tmp_path: Path, backend: dict[str, Any]
) -> None:
    # Each refuses to lock out only itself: without a check that holds across both
    # changes, both passed and no enabled account held users:admin.
    url = _database_url(tmp_path, backend)
    hasher = PasswordHasher("test")

    async def run() -> list[list[Any]]:
        engines = [make_engine(url) for _ in range(2)]
        try:
            await migrate(engines[0])
            admins = _admins(engines, hasher, keep_holder_of="users:admin")
            rounds = []
            for n in range(6):
                a, b = f"ann{n}", f"ben{n}"
                for name in (a, b):
                    await admins[0].store.create_user(name, "x", ["users:admin"])
                # The earlier rounds' survivors must not count: disable them.
                for account in await admins[0].list_accounts():
                    if account.username not in (a, b) and not account.disabled:
                        await AccountAdmin(
                            admins[0].store,
                            admins[0].revocations,
                            hasher,
                            access_token_ttl=60,
                        ).disable(account.username)
                operations = (
                    [admins[0].disable(b), admins[1].disable(a)]
                    if n % 3 == 0
                    else [admins[0].delete(b), admins[1].revoke(a, ["users:admin"])]
                    if n % 3 == 1
                    else [admins[0].revoke(b, ["users:admin"]), admins[1].delete(a)]
                )
                outcomes = await asyncio.gather(*operations, return_exceptions=True)
                rounds.append(outcomes)
                holders = [
                    x
                    for x in await admins[0].list_accounts()
                    if not x.disabled and "users:admin" in x.scopes
                ]
                assert len(holders) == 1, (n, outcomes, holders)
            return rounds
        finally:
            for engine in engines:
                await engine.dispose()

    for outcomes in asyncio.run(run()):
        refused = [o for o in outcomes if isinstance(o, LastHolderError)]
        assert len(refused) == 1, outcomes
        assert refused[0].code == "last_holder"
        assert refused[0].facts["scope"] == "users:admin"


def test_a_first_migration_that_commits_while_another_checks_the_schema_is_no_error(
    tmp_path: Path,
) -> None:
    # Two `sealbox users …` on a new PostgreSQL database: the first creates the tables and
    # commits just after the second read "no migration yet" and just before it looks for
    # the accounts table. The second must wait for the first, not refuse a half-made schema.
    import threading

    from sqlalchemy import event

    from tests.service.conftest import reset_shared_state, shared_settings

    url = shared_settings()["database_url"]
    reset_shared_state()
    second_checks = threading.Event()  # the second looks for the table, or waits its turn
    first_done = threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        async def run() -> None:
            engine = make_engine(url)

            @event.listens_for(engine.sync_engine, "commit")
            def hold_the_commit(_conn: Any) -> None:
                second_checks.wait(60)

            try:
                await migrate(engine)
            finally:
                first_done.set()
                await engine.dispose()

        asyncio.run(run())

    def second() -> None:
        async def run() -> None:
            engine = make_engine(url)

            @event.listens_for(engine.sync_engine, "before_cursor_execute")
            def meet_the_commit(_c: Any, _cur: Any, statement: str, params: Any, *_: Any) -> None:
                values = params.values() if isinstance(params, dict) else params or ()
                looks_for_users = "users" in [v for v in values if isinstance(v, str)]
                if not second_checks.is_set() and (
                    looks_for_users or "pg_advisory_xact_lock" in statement
                ):
                    second_checks.set()
                    if looks_for_users:
                        first_done.wait(60)  # the schema is committed meanwhile

            try:
                await migrate(engine)
            finally:
                await engine.dispose()

        try:
            asyncio.run(run())
        except Exception as exc:  # noqa: BLE001 - compared below, with its message
            errors.append(exc)

    try:
        a = threading.Thread(target=first)
        a.start()
        started = threading.Thread(target=second)
        started.start()
        a.join(120)
        started.join(120)
        assert errors == []
    finally:
        reset_shared_state()
