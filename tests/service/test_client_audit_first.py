"""A client administration refused 503 ``audit_unavailable`` has changed nothing: the
record of creating a client, changing its scopes, enabling it or rotating its secret is
written in the change's transaction. The audit log turns unwritable mid-test
(``/dev/full``, which refuses every write with ENOSPC) and writable again; each request
is then sent again and served. The service in a thread over real TLS on 127.0.0.1, real
SQLite."""

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


def _log_to(running: Running, path: Path) -> None:
    runtime: Any = running.server.config.app.state.runtime
    log = AuditLog(path)
    runtime.audit = log
    runtime.accounts.audit = log


def _refused(r: httpx2.Response) -> None:
    assert r.status_code == 503, r.text
    assert r.json()["error"] == "audit_unavailable"


def test_client_changes_refused_for_their_records_change_nothing_and_are_served_again(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path / "data")
    create_user(settings, "root", lambda _name: PASSWORD, ["clients:admin", "transit:admin"])
    later = tmp_path / "audit.log"
    with run_service(settings) as running, running.client() as c:
        admin = bearer(login(c, "root").json()["access_token"])
        made = c.post("/clients", json={"name": "kept", "scopes": []}, headers=admin).json()
        assert c.post("/clients/kept/disable", headers=admin).status_code == 200
        before = c.get("/clients", headers=admin).json()
        _log_to(running, FULL)
        _refused(c.post("/clients", json={"name": "new", "scopes": []}, headers=admin))
        grant = {"scopes": ["transit:admin"]}
        _refused(c.post("/clients/kept/scopes", json=grant, headers=admin))
        _refused(c.post("/clients/kept/enable", headers=admin))
        _refused(c.post("/clients/kept/rotate-secret", headers=admin))
        _log_to(running, later)
        # Nothing changed: no client "new", "kept" as it was (disabled, no scope, its secret).
        assert c.get("/clients", headers=admin).json() == before
        assert c.get("/clients/new", headers=admin).status_code == 404
        # Sent again, each is served.
        assert (
            c.post("/clients", json={"name": "new", "scopes": []}, headers=admin).status_code == 201
        )
        granted = c.post("/clients/kept/scopes", json=grant, headers=admin).json()
        assert granted["scopes"] == ["transit:admin"]
        assert c.post("/clients/kept/enable", headers=admin).json()["disabled"] is False
        rotated = c.post("/clients/kept/rotate-secret", headers=admin).json()
        assert rotated["client_secret"] != made["client_secret"]
    records = [json.loads(line) for line in later.read_text().splitlines()]
    assert [(r["event"], r["outcome"], r["detail"]) for r in records] == [
        ("client_create", "success", "new"),
        ("client_grant", "success", "kept; holds transit:admin"),
        ("client_enable", "success", "kept"),
        ("client_rotate", "success", "kept"),
    ]
