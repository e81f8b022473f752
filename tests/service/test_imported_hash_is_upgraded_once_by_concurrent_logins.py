"""Two logins of an imported account that both read its legacy hash both succeed, and the
hash is upgraded once: one ``rehash`` record, and the Argon2id hash then stored is the
one every later login verifies."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

from sealbox.accounts import make_engine
from sealbox.accounts.store import Store
from sealbox.service.db import sessionmaker
from tests.service._entry_compare import service_app
from tests.service.conftest import PASSWORD, login
from tests.service.test_account_admin import stored_hash
from tests.service.test_accounts_edges import _pbkdf2_hash


def test_two_concurrent_logins_upgrade_an_imported_hash_exactly_once(service) -> None:
    async def create() -> None:
        engine = make_engine(service.settings.resolved_database_url())
        await Store(sessionmaker(engine), refresh_ttl=60).create_user(
            "twice", _pbkdf2_hash(PASSWORD), ["users:me"]
        )
        await engine.dispose()

    asyncio.run(create())
    answers: list[Any] = []

    def one_login() -> None:
        with service.client() as c:
            answers.append(login(c, "twice"))

    # Both logins must have read the legacy hash before either checks it: the hashing
    # threads are held until both checks wait in their queue.
    pool = service_app(service).state.runtime.hash_pool
    held, started = threading.Event(), threading.Semaphore(0)

    def hold() -> None:
        started.release()
        held.wait(60)

    logins = [threading.Thread(target=one_login) for _ in range(2)]
    try:
        for _ in range(pool._max_workers):
            pool.submit(hold)
        for _ in range(pool._max_workers):
            assert started.acquire(timeout=30)
        for thread in logins:
            thread.start()
        deadline = time.monotonic() + 30
        while pool._work_queue.qsize() < 2:
            assert all(t.is_alive() for t in logins), "a login ended first"
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.005)
    finally:
        held.set()
        for thread in logins:
            if thread.ident is not None:
                thread.join(60)
    assert [r.status_code for r in answers] == [200, 200]
    records = [json.loads(line) for line in service.audit().splitlines()]
    rehashes = [r for r in records if r.get("user") == "twice" and r["event"] == "rehash"]
    assert [(r["outcome"], r.get("detail")) for r in rehashes] == [("success", "pbkdf2_sha256")]
    upgraded = stored_hash(service.settings, "twice")
    assert upgraded.startswith("$argon2id$")
    with service.client() as c:
        assert login(c, "twice").status_code == 200
    assert stored_hash(service.settings, "twice") == upgraded
