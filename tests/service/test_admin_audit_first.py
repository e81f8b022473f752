"""An administrator's change (``/users/…``) and a revocation (``/auth/revoke``) refused 503
``audit_unavailable`` have changed nothing: the record is written in the change's
transaction. The audit log turns unwritable mid-test (``/dev/full``, which refuses every
write with ENOSPC) and writable again; each request is then sent again and served. The
service in a thread over real TLS on 127.0.0.1, real SQLite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
import pytest

from sealbox.accounts.audit import AuditLog
from sealbox.service.admin import create_user
from tests.service.conftest import PASSWORD, Running, bearer, login, make_settings, run_service

FULL = Path("/dev/full")
pytestmark = pytest.mark.skipif(not FULL.is_char_device(), reason="needs /dev/full")

FIRST_PARTY = {"client_id": "sealbox-first-party"}


def _log_to(running: Running, path: Path) -> None:
    """Point the worker's audit log at ``path`` (the routes and the accounts share it)."""
    runtime: Any = running.server.config.app.state.runtime
    log = AuditLog(path)
    runtime.audit = log
    runtime.accounts.audit = log


def _records(path: Path) -> list[tuple[str, str, str | None]]:
    lines = path.read_text().splitlines() if path.exists() else []
    return [(r["event"], r["outcome"], r["user"]) for r in map(json.loads, lines)]


def _refused(r: httpx2.Response) -> None:
    assert r.status_code == 503, r.text
    assert r.json()["error"] == "audit_unavailable"


def test_admin_changes_refused_for_their_records_change_nothing_and_are_served_again(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path / "data")
    create_user(settings, "root", lambda _name: PASSWORD, ["users:admin"])
    for name in ("bob", "carol", "dave"):
        create_user(settings, name, lambda _name: PASSWORD)
    later = tmp_path / "audit.log"
    with run_service(settings) as running, running.client() as c:
        admin = bearer(login(c, "root").json()["access_token"])
        bob = bearer(login(c, "bob").json()["access_token"])
        before = c.get("/users", headers=admin).json()
        _log_to(running, FULL)
        _refused(c.post("/users/bob/disable", headers=admin))
        _refused(c.post("/users/carol/scopes", json={"scopes": ["transit:admin"]}, headers=admin))
        _refused(c.post("/users/carol/password", json={"password": "x" * 12}, headers=admin))
        _refused(c.delete("/users/dave", headers=admin))
        _log_to(running, later)
        # Nothing changed: every account as it was, bob's session alive, carol's password.
        assert c.get("/users", headers=admin).json() == before
        assert c.get("/users/me", headers=bob).status_code == 200
        assert login(c, "carol").status_code == 200
        # Sent again, each is served.
        assert c.post("/users/bob/disable", headers=admin).status_code == 200
        granted = c.post("/users/carol/scopes", json={"scopes": ["transit:admin"]}, headers=admin)
        assert "transit:admin" in granted.json()["scopes"]
        assert c.delete("/users/dave", headers=admin).status_code == 204
        assert c.get("/users/me", headers=bob).status_code == 401
    assert _records(later) == [
        ("login", "success", "carol"),
        ("admin.disable", "success", "bob"),
        ("admin.grant", "success", "carol"),
        ("admin.delete", "success", "dave"),
    ]


def test_a_revocation_refused_for_its_record_revokes_nothing_and_is_served_again(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path / "data")
    create_user(settings, "alice", lambda _name: PASSWORD)
    later = tmp_path / "audit.log"
    with run_service(settings) as running, running.client() as c:
        tokens = login(c, "alice").json()
        auth = bearer(tokens["access_token"])
        _log_to(running, FULL)
        for token in (tokens["refresh_token"], tokens["access_token"]):
            _refused(c.post("/auth/revoke", data={"token": token, **FIRST_PARTY}))
        _log_to(running, later)
        # Neither token was revoked: the access token works, the refresh token rotates.
        assert c.get("/users/me", headers=auth).status_code == 200
        refreshed = c.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 200, refreshed.text
        again = c.post("/auth/revoke", data={"token": tokens["access_token"], **FIRST_PARTY})
        assert again.status_code == 200, again.text
        assert c.get("/users/me", headers=auth).status_code == 401
        new = refreshed.json()["refresh_token"]
        assert c.post("/auth/revoke", data={"token": new, **FIRST_PARTY}).status_code == 200
        assert c.post("/auth/refresh", json={"refresh_token": new}).status_code == 400
    assert _records(later) == [
        ("refresh", "success", "alice"),
        ("revoke", "success", "sealbox-first-party"),
        ("revoke", "success", "sealbox-first-party"),
        ("refresh", "failure", None),
    ]
