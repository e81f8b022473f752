"""The service's SQLite database on a full disk (a small tmpfs, root only): a change the
disk has no room for is answered ``503 store_unavailable`` (the command line: its error
and hint), nothing of it is kept, and the next request once room is freed succeeds."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import fill
from tests.service.conftest import PASSWORD, make_settings, run_service

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="tmpfs: Linux")


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MiB tmpfs (the data folder's keys and certificates fit; 1 MiB does not)."""
    where = tmp_path / "disk"
    where.mkdir()
    command = ["mount", "-t", "tmpfs", "-o", "size=8m,mode=0755", "tmpfs", str(where)]
    if os.geteuid() != 0 or subprocess.run(command, capture_output=True).returncode:
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _login(client, username: str):  # type: ignore[no-untyped-def]
    form = {"grant_type": "password", "username": username, "password": PASSWORD}
    return client.post("/auth/token", data=form)


def test_full_database_disk_is_503_then_heals(tmp_path: Path, disk: Path) -> None:
    from sealbox.service import create_user
    from sealbox.service.serve import prepare

    # The audit log elsewhere: its own full disk is answered audit_unavailable.
    settings = make_settings(disk / "data", audit_log=tmp_path / "audit.log")
    prepare(settings)
    create_user(settings, "root", lambda _n: PASSWORD, scopes=["users:admin"])
    create_user(settings, "alice", lambda _n: PASSWORD)
    database = disk / "data" / "sealbox.db"
    with run_service(settings) as service, service.client() as c:
        admin = {"Authorization": "Bearer " + _login(c, "root").json()["access_token"]}
        fill(disk / "filler")
        answers = [
            _login(c, "alice"),
            c.post("/auth/register", json={"username": "bob", "password": PASSWORD}),
            c.post("/users/alice/disable", headers=admin),
        ]
        for r in answers:
            # An SQLite "database or disk is full" was an unhandled 500 internal_error.
            assert r.status_code == 503, r.text
            assert r.json()["error"] == "store_unavailable"
            assert "disk is full" in r.json()["message"]
            assert str(database) not in r.text
            assert r.headers["Retry-After"] == "30"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
        # Its audit log elsewhere too: on the full disk, it refuses the change first.
        env["SEALBOX_AUDIT_LOG"] = str(tmp_path / "cli-audit.log")
        command = ["users", "disable", "alice", "--data-dir", str(disk / "data")]
        cli = subprocess.run(
            [sys.executable, "-m", "sealbox", *command], capture_output=True, env=env, check=False
        )
        assert cli.returncode == 1
        assert cli.stderr.decode() == (
            f"sealbox: error: cannot write the database {database}: the disk that holds it "
            "is full (nothing of the change was kept)\n"
            f"sealbox: hint: free space on the file system that holds {database} "
            "('df -h' shows it), then run the command again\n"
        )
        with sqlite3.connect(database) as check:
            assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        (disk / "filler").unlink()
        # Room again: the same requests succeed, without a restart; nothing was half done.
        assert _login(c, "alice").status_code == 200
        r = c.post("/auth/register", json={"username": "bob", "password": PASSWORD})
        assert r.status_code == 201, r.text
        r = c.post("/users/alice/disable", headers=admin)
        assert r.status_code == 200 and r.json()["disabled"] is True


def test_logout_whose_revocation_write_finds_the_disk_full_says_the_session_is_ended(
    tmp_path: Path, disk: Path
) -> None:
    from sealbox.service import create_user

    settings = make_settings(disk / "data", audit_log=tmp_path / "audit.log")
    create_user(settings, "alice", lambda _n: PASSWORD)
    with run_service(settings) as service, service.client() as c:
        tokens = _login(c, "alice").json()
        auth = {"Authorization": "Bearer " + tokens["access_token"]}
        refresh = {"refresh_token": tokens["refresh_token"]}
        revocations = service.server.config.app.state.runtime.revocations
        write = revocations.revoke

        async def disk_filled_after_the_commit(jti, until):  # type: ignore[no-untyped-def]
            # The logout's transaction has committed; its follow-up write finds no room.
            fill(disk / "filler")
            await write(jti, until)

        revocations.revoke = disk_filled_after_the_commit
        r = c.post("/auth/logout", json=refresh, headers=auth)
        assert r.status_code == 503, r.text
        assert r.json()["error"] == "store_unavailable"
        assert r.json()["message"].startswith("the change is made")
        assert "nothing was done" not in r.text
        revocations.revoke = write
        (disk / "filler").unlink()
        # Made indeed: the session's refresh token no longer works.
        form = {"grant_type": "refresh_token", **refresh}
        assert c.post("/auth/token", data=form).status_code == 400
