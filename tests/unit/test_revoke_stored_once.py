"""``/auth/revoke`` of an access token (:func:`sealbox.accounts.grants.revoke`) stores its
``jti`` once, in the audited transaction, and another worker refuses the token at once: one
watching the same changes file on SQLite, one on the same Redis with PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from sealbox.accounts import Accounts, sessions
from sealbox.accounts.audit import AuditLog, ChangeRecord
from sealbox.accounts.grants import is_revoked, revoke
from sealbox.accounts.revocation import (
    WATCH_INTERVAL,
    LocalRevocations,
    RedisRevocations,
    Revocations,
)
from tests._accounts import run_accounts

PASSWORD = "canary-revoke-stored-once-3f9d"
FIRST_PARTY = "sealbox-first-party"


async def _revoked_once(
    accounts: Accounts, other: Revocations, audit: Path
) -> tuple[list[str], bool, bool]:
    """Revoke a live access token through ``accounts`` (its audit record in ``audit``): the
    statements writing ``revoked_tokens``, and whether ``other`` (another worker's lists,
    loaded before) and ``accounts`` refuse the token at the next look."""
    await sessions.register(accounts, "lea", PASSWORD, "192.0.2.1")
    issued = await sessions.login(accounts, "lea", PASSWORD, "192.0.2.1", [])
    claims = accounts.verifier.verify(issued.access_token)
    await other.load()
    assert not await is_revoked(other, claims)
    engine = accounts.store.sessions.kw["bind"].sync_engine
    writes: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "revoked_tokens" in statement and not statement.lstrip().upper().startswith("SELECT"):
            writes.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    log = AuditLog(audit)
    try:
        what = await revoke(
            issued.access_token,
            caller_id=FIRST_PARTY,
            caller_scopes=(),
            verifier=accounts.verifier,
            revocations=accounts.revocations,
            sessions=accounts.store.sessions,
            first_party_client_id=FIRST_PARTY,
            access_token_ttl=accounts.policy.access_token_ttl,
            record=ChangeRecord(log, "revoke", user=FIRST_PARTY, address="192.0.2.1"),
        )
    finally:
        event.remove(engine, "before_cursor_execute", seen)
        log.close()
    assert what == "access_token"
    await asyncio.sleep(WATCH_INTERVAL)
    return writes, await is_revoked(other, claims), await is_revoked(accounts.revocations, claims)


def _outcomes(audit: Path) -> list[tuple[str, str]]:
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    return [(r["outcome"], r["detail"]) for r in records]


def test_a_revoked_access_token_is_stored_once_and_refused_by_a_watching_worker(
    tmp_path: Path,
) -> None:
    changes = tmp_path / "revocations.changed"
    audit = tmp_path / "audit.log"

    async def scenario(accounts: Accounts) -> None:
        other = LocalRevocations(accounts.store, watch=changes)
        writes, there, here = await _revoked_once(accounts, other, audit)
        assert len(writes) == 1, writes
        assert there
        assert here

    run_accounts(tmp_path, scenario, watch=changes)
    assert _outcomes(audit) == [("success", "access_token")]


@pytest.mark.postgres
@pytest.mark.redis
def test_a_revoked_access_token_is_stored_once_and_refused_by_a_worker_on_redis(
    tmp_path: Path,
) -> None:
    from tests._accounts import _run
    from tests.service.conftest import private_shared_state

    audit = tmp_path / "audit.log"

    with private_shared_state(f"stored_once_{tmp_path.name[-8:]}".lower()) as shared:
        url, prefix = shared["redis_url"], shared["redis_prefix"]

        async def scenario(accounts: Accounts) -> None:
            other = RedisRevocations(accounts.store, url, prefix=prefix)
            try:
                writes, there, here = await _revoked_once(accounts, other, audit)
            finally:
                await other.close()
            assert len(writes) == 1, writes
            assert there
            assert here

        asyncio.run(
            _run(shared["database_url"], scenario, None, None, redis_url=url, redis_prefix=prefix)
        )
    assert _outcomes(audit) == [("success", "access_token")]
