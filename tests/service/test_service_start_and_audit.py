"""The service at start-up and under a full disk: refuse, never recreate or serve unaudited."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path

import pytest

from sealbox.service.audit import AuditLog
from tests.conftest import fill, run_sealbox
from tests.service.conftest import (
    free_port,
    login,
    make_settings,
    register,
    run_service,
    serve_process,
)


def _serve_check(cli, data: Path):
    # `--check` provisions and migrates like a start, then stops.
    return cli(["serve", "--data-dir", data, "--check"])


def _start_once(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    with run_service(make_settings(data)) as running, running.client() as c:
        assert register(c, "kept").status_code == 201
    return data


def test_a_folder_with_keys_and_no_database_is_refused(tmp_path: Path, cli) -> None:
    data = _start_once(tmp_path)
    (data / "sealbox.db").unlink()
    r = cli(["serve", "--data-dir", data, "--port", "0", "--check"])
    assert r.code == 1
    lines = r.stderr.splitlines()
    assert lines[0] == (
        f"sealbox: error: the data folder holds keys but its database {data / 'sealbox.db'} "
        "is missing"
    )
    assert lines[1].startswith("sealbox: hint: restore it from a backup; to start over")
    assert not (data / "sealbox.db").exists()  # never recreated silently


def test_an_unreadable_database_is_refused(tmp_path: Path, cli) -> None:
    data = _start_once(tmp_path)
    (data / "sealbox.db").write_bytes(b"this is not a database at all")
    r = cli(["serve", "--data-dir", data, "--port", "0", "--check"])
    assert r.code == 1
    assert r.stderr.startswith(f"sealbox: error: {data / 'sealbox.db'} is not an SQLite database")
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize(
    ("relative", "mode", "hint"),
    [
        ("", 0o777, "chmod 700"),
        ("master.key", 0o644, "chmod 600"),
        ("tls/server.key", 0o644, "chmod 600"),
        ("sealbox.db", 0o644, "chmod 600"),
        ("jwt-keyset.sealed", 0o640, "chmod 600"),
        ("audit.log", 0o644, "chmod 600"),
    ],
)
def test_loose_modes_in_the_data_folder_are_refused_with_the_chmod(
    tmp_path: Path, cli, relative: str, mode: int, hint: str
) -> None:
    data = _start_once(tmp_path)
    target = data / relative if relative else data
    target.chmod(mode)
    r = cli(["serve", "--data-dir", data, "--port", "0", "--check"])
    assert r.code == 1
    lines = r.stderr.splitlines()
    assert len(lines) == 2, r.stderr
    assert str(target) in lines[0] and f"(mode {mode:o})" in lines[0]
    assert lines[1] == f"sealbox: hint: {hint} {target}"
    assert stat_mode(target) == mode  # reported, not changed behind the operator's back


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_an_audit_log_that_cannot_be_opened_stops_the_start(tmp_path: Path, cli) -> None:
    data = _start_once(tmp_path)
    r = cli(
        ["serve", "--data-dir", data, "--port", "0", "--check"],
        env={"SEALBOX_AUDIT_LOG": str(tmp_path)},  # a folder, not a file
    )
    assert r.code == 1
    assert r.stderr.startswith(
        f"sealbox: error: the audit log {tmp_path} (SEALBOX_AUDIT_LOG) is a folder, not a file"
    )


def test_a_full_disk_under_the_audit_log_refuses_requests_and_recovers(
    tmp_path: Path, small_fs: Path, caplog: pytest.LogCaptureFixture
) -> None:
    audit = small_fs / "audit.log"
    settings = make_settings(tmp_path / "data", audit_log=audit)
    with run_service(settings) as running, running.client() as c:
        assert register(c, "before").status_code == 201
        fill(small_fs / "filler")
        # The log's last page still takes a few records; then nothing fits.
        served = 1
        for _ in range(200):
            r = login(c, "before")
            if r.status_code == 503:
                break
            assert r.status_code == 200
            served += 1
        assert r.status_code == 503
        assert r.json()["error"] == "audit_unavailable"
        r = c.post("/auth/register", json={"username": "during", "password": "a long password"})
        assert r.status_code == 503
        assert "cannot write the audit log" in caplog.text
        (small_fs / "filler").unlink()
        assert login(c, "before").status_code == 200
        served += 1
        # The refused registration made no account: the name is free to register again.
        assert register(c, "during").status_code == 201
        served += 1
    # Every request that was served is in the log; none that was refused was served.
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert len(records) == served
    assert [r["outcome"] for r in records if r["user"] == "during"] == ["success"]


def test_records_are_one_line_for_any_reader(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    audit = AuditLog(path)
    audit.record("login", outcome="failure", user="a\u2028b\u2029c\nd\re\x85f")
    audit.close()
    text = path.read_text()
    assert len(text.splitlines()) == 1
    assert json.loads(text)["user"] == "a\u2028b\u2029c\nd\re\x85f"


def test_the_audit_log_is_reopened_after_logrotate_moves_it(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    audit = AuditLog(path, rotation_check=0)  # looked at before every record
    audit.record("login", outcome="success", user="one")
    path.rename(tmp_path / "audit.log.1")  # logrotate without copytruncate
    audit.record("login", outcome="success", user="two")
    audit.close()
    assert json.loads(path.read_text())["user"] == "two"
    assert json.loads((tmp_path / "audit.log.1").read_text())["user"] == "one"
    assert path.stat().st_mode & 0o777 == 0o600


def test_sighup_reopens_the_audit_log(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"SEALBOX_PASSWORD_PROFILE": "test"}
    with serve_process(tmp_path, "--log-level", "info", env=env, data_dir=data) as srv:
        with srv.client() as c:
            register(c, "first")
        moved = data / "audit.log.1"
        # A rename keeps the inode: only the reopen (on SIGHUP) moves writing to the new
        # file. (Writing to a moved file is caught before every record too, as above.)
        os.link(data / "audit.log", moved)
        (data / "audit.log").unlink()
        (data / "audit.log").touch(mode=0o600)
        os.kill(srv.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + 10
        n = 0
        with srv.client() as c:
            while "later" not in (data / "audit.log").read_text():
                assert time.monotonic() < deadline, "no record reached the new audit log"
                n += 1
                register(c, f"later{n}")
                time.sleep(0.1)
    assert "first" in moved.read_text()
    assert "first" not in (data / "audit.log").read_text()
    assert f"reopened the audit log {data / 'audit.log'}" in srv.stderr


def test_the_access_log_shows_query_parameter_names_never_their_values(tmp_path: Path) -> None:
    env = {"SEALBOX_PASSWORD_PROFILE": "test"}
    canaries = {
        "password": "canary-access-log-password-7e1f",
        "refresh_token": "sbr_canaryAccessLogRefresh0000000000000000000",
        "client_secret": "sbs_canaryAccessLogSecret00000000000000000000",
    }
    jwt_like = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    with (
        serve_process(
            tmp_path, "--log-level", "info", env=env, data_dir=tmp_path / "d", capture_stdout=True
        ) as srv,
        srv.client() as c,
    ):
        query = "&".join(f"{k}={v}" for k, v in canaries.items())
        c.post(f"/auth/token?grant_type=password&username=alice&{query}")
        c.get(f"/users/me?access_token={jwt_like}")
        c.get(f"/health?{canaries['client_secret']}")
        c.get("/health?s3cr3t-short&list=true")  # a bare value, however short
        c.get("/health;password=hunter2-path-param")  # a path segment's parameter
    lines = srv.stdout.splitlines()
    assert any(
        '"POST /auth/token?grant_type=…&username=…&password=…&refresh_token=…&client_secret=…'
        in line
        for line in lines
    ), srv.stdout
    assert any('"GET /users/me?access_token=… HTTP/1.1" 401' in line for line in lines)
    assert any('"GET /health?… HTTP/1.1" 200' in line for line in lines)
    assert any('"GET /health?…&list=… HTTP/1.1"' in line for line in lines), srv.stdout
    assert any('"GET /health;… HTTP/1.1"' in line for line in lines), srv.stdout
    for secret in (*canaries.values(), jwt_like, "alice", "s3cr3t-short", "hunter2-path-param"):
        assert secret not in srv.stdout + srv.stderr


def test_an_audit_log_outside_the_data_folder_is_checked_before_anything_is_made(
    tmp_path: Path,
) -> None:
    # It was checked after the data folder, its keys and database had been made, and the
    # check created it: a start refused for it, or for what came after, left both behind.
    data = tmp_path / "data"
    (tmp_path / "a-file").write_text("")
    audit = tmp_path / "a-file" / "logs" / "audit.log"
    r = run_sealbox(["serve", "--data-dir", data], env={"SEALBOX_AUDIT_LOG": str(audit)})
    assert r.returncode == 1
    assert not data.exists()
    assert r.stderr.decode() == (
        f"sealbox: error: cannot open the audit log {audit}: {tmp_path / 'a-file'} is a "
        "file, not a folder\n"
        "sealbox: hint: the service refuses requests it cannot audit; fix the path or mode\n"
    )
    assert not data.exists()
    # A start refused after the check (its port is taken) does not leave the log behind.
    logs = tmp_path / "logs"
    logs.mkdir()
    assert run_sealbox(["serve", "--check", "--data-dir", data]).returncode == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", free_port()))
        taken.listen()
        port = str(taken.getsockname()[1])
        env = {"SEALBOX_AUDIT_LOG": str(logs / "new" / "audit.log")}
        r = run_sealbox(["serve", "--data-dir", data, "--port", port], env=env)
    assert r.returncode == 1 and "cannot listen on" in r.stderr.decode()
    assert list(logs.iterdir()) == []
