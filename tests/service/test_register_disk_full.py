"""``/auth/register`` of ``auth_router`` over an SQLite database on a full disk (a small
tmpfs, root only): 503 ``store_unavailable`` in any app, no account stored, and the audit
log's record of it, written before the commit that failed, followed by ``not_committed``; the attempt stays counted by the address's throttle, as every registration
is (the password was hashed). Once room is freed the same registration succeeds. Plain
uvicorn over real TLS on 127.0.0.1; the audit log on another disk."""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations.

import json
import sqlite3
import sys
from pathlib import Path

import pytest

from sealbox.accounts import AccountPolicy
from sealbox.accounts.audit import AuditLog
from tests.conftest import fill
from tests.service._own_app import accounts_lifespan, auth_app, served_over_tls
from tests.service.conftest import PASSWORD
from tests.service.test_database_disk_full import disk

__all__ = ["disk"]  # the fixture, used by name

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="tmpfs: Linux")


@pytest.mark.parametrize("handlers", [False, True], ids=["plain-fastapi", "sealbox-handlers"])
def test_register_on_a_full_database_disk_is_503_and_stores_and_audits_no_account(
    tmp_path: Path, disk: Path, handlers: bool
) -> None:
    database = disk / "accounts.db"
    policy = AccountPolicy(throttle_address_attempts=2)
    lifespan = accounts_lifespan(f"sqlite+aiosqlite:///{database}", policy=policy)
    app = auth_app(lifespan, handlers=handlers)
    audit = tmp_path / "audit.log"
    bob = {"username": "bob", "password": PASSWORD}
    with served_over_tls(app, tmp_path) as c:
        app.state.accounts.audit = AuditLog(audit)
        fill(disk / "filler")
        full = c.post("/auth/register", json=bob)
        with sqlite3.connect(database) as db:
            stored = db.execute("SELECT count(*) FROM users").fetchone()
        records_while_full = audit.read_text()
        (disk / "filler").unlink()
        again = c.post("/auth/register", json=bob)  # 201: the name was not taken
        third = c.post("/auth/register", json={"username": "carol", "password": PASSWORD})
    assert full.status_code == 503, full.text
    message = "the service cannot store the change now (its disk is full); nothing was done"
    said = full.json()
    assert said == (
        {"error": "store_unavailable", "message": f"{message}: try again later"}
        if handlers
        else {"detail": f"{message}: try again later"}
    )
    assert full.headers["retry-after"] == "30"
    assert full.headers["cache-control"] == "no-store"
    assert str(database) not in full.text
    assert PASSWORD not in full.text
    assert stored == (0,)
    # Written in the transaction before its commit failed, then cancelled: no success stands.
    while_full = [json.loads(line) for line in records_while_full.splitlines()]
    assert [(r["event"], r["outcome"], r["user"]) for r in while_full] == [
        ("register", "success", "bob"),
        ("register", "not_committed", "bob"),
    ]
    assert again.status_code == 201, again.text
    # The refused registration and bob's count against the address: carol's is the third.
    assert third.status_code == 429, third.text
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(r["event"], r["outcome"], r["user"]) for r in records[2:]] == [
        ("register", "success", "bob"),
        ("register", "throttled", "carol"),
    ]
