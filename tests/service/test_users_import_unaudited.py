"""``POST /users/import`` whose audit records cannot be written: as ``sealbox users import``,
no account is left without its record, and the answer says what stands.

Real HTTPS on 127.0.0.1; the audit log on a real full disk (a small tmpfs, root only).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

import httpx2

from sealbox.service.admin import create_user
from sealbox.service.audit import AuditLog
from tests.conftest import fill
from tests.service.conftest import PASSWORD, bearer, login, make_settings, run_service

PAGE = os.sysconf("SC_PAGE_SIZE")


def _hash(password: str) -> str:
    """A Django ``pbkdf2_sha256`` hash (cheap to check: the import only reads its form)."""
    key = hashlib.pbkdf2_hmac("sha256", password.encode(), b"salt1234", 1000)
    return f"pbkdf2_sha256$1000$salt1234${base64.b64encode(key).decode()}"


def _entries(*names: str) -> list[object]:
    return [{"username": n, "password_hash": _hash(f"{n}-password-1")} for n in names]


def _admin(c: httpx2.Client, settings) -> dict[str, str]:
    create_user(settings, "root", lambda _name: PASSWORD, ["users:admin"])
    r = login(c, "root")
    assert r.status_code == 200, r.text
    return bearer(r.json()["access_token"])


def _fill_leaving(disk: Path, log: Path, room: int) -> None:
    """Take every free page of ``disk``, then the log's last page but ``room`` bytes
    (tmpfs hands out whole pages: the log's last one is all that still takes a write)."""
    fill(disk / "filler")
    assert os.statvfs(disk).f_bavail == 0
    slack = -log.stat().st_size % PAGE
    assert slack >= room
    if slack > room:
        with log.open("ab") as fh:
            fh.write(b" " * (slack - room - 1) + b"\n")


def _names(c: httpx2.Client, admin: dict[str, str]) -> list[str]:
    r = c.get("/users", headers=admin)
    assert r.status_code == 200, r.text
    return [a["username"] for a in r.json()]


def _records(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def test_an_import_whose_refused_entry_cannot_be_recorded_creates_no_account(
    tmp_path: Path, small_fs: Path
) -> None:
    log = small_fs / "audit.log"
    settings = make_settings(tmp_path / "data", audit_log=log)
    with run_service(settings) as running, running.client() as c:
        admin = _admin(c, settings)
        body = {"users": [*_entries("alice", "bob"), 42], "skip_invalid": True}
        _fill_leaving(small_fs, log, room=0)
        r = c.post("/users/import", json=body, headers=admin)
        (small_fs / "filler").unlink()
        # None stands, and the names are free for the import once the log takes records.
        assert _names(c, admin) == ["root"]
        assert r.status_code == 503, r.text
        assert r.headers["Retry-After"] == "30"
        assert r.json() == {
            "error": "audit_unavailable",
            "message": "did not import the accounts 'alice', 'bob': the audit log cannot be "
            "written (no space left on device)",
            "imported": [],
        }
        r = c.post("/users/import", json=body, headers=admin)
        assert r.status_code == 200, r.text
        assert r.json()["imported"] == ["alice", "bob"]
    assert [(e["outcome"], e["user"]) for e in _records(log) if e["event"] == "admin.import"] == [
        ("refused", None),
        ("success", "alice"),
        ("success", "bob"),
    ]


def test_an_import_whose_audit_disk_fills_midway_answers_which_accounts_stand(
    tmp_path: Path, small_fs: Path
) -> None:
    log = small_fs / "audit.log"
    settings = make_settings(tmp_path / "data", audit_log=log)
    # Room for the record of the first account imported, not for the second's.
    measured = AuditLog(tmp_path / "measure.log")
    measured.record(
        "admin.import", outcome="success", user="alice", address="127.0.0.1", detail="by root"
    )
    measured.close()
    room = (tmp_path / "measure.log").stat().st_size
    with run_service(settings) as running, running.client() as c:
        admin = _admin(c, settings)
        _fill_leaving(small_fs, log, room=room)
        r = c.post(
            "/users/import", json={"users": _entries("alice", "bob", "carol")}, headers=admin
        )
        (small_fs / "filler").unlink()
        # Every account there is recorded, and every record names an account that is there.
        assert _names(c, admin) == ["alice", "root"]
        assert r.status_code == 503, r.text
        assert r.json() == {
            "error": "audit_unavailable",
            "message": "did not import the accounts 'bob', 'carol': the audit log cannot be "
            "written (no space left on device); imported (and recorded) 'alice' before",
            "imported": ["alice"],
        }
    imports = [e for e in _records(log) if e["event"] == "admin.import"]
    assert [(e["outcome"], e["user"]) for e in imports] == [("success", "alice")]
