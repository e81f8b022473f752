"""The audit log: JSON lines, appended whole by several writers, redacted, never raising."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

import pytest

from sealbox.service.audit import AuditLog, AuditUnavailableError


def test_records_are_json_lines(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "sub" / "audit.log")
    log.record(
        "transit.encrypt", outcome="success", user="ops", address="127.0.0.1", detail="key=k"
    )
    log.record("login", outcome="failure", user="ü", address=None)
    log.close()
    log.close()
    path = tmp_path / "sub" / "audit.log"
    assert path.stat().st_mode & 0o777 == 0o600
    first, second = (json.loads(line) for line in path.read_text().splitlines())
    assert first["event"] == "transit.encrypt" and first["detail"] == "key=k"
    assert first["time"].endswith("Z") and "T" in first["time"]
    assert (second["user"], second["address"], second["outcome"]) == ("ü", None, "failure")
    assert "detail" not in second
    log.record("after close", outcome="success")  # ignored, no error


def test_many_writers_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    logs = [AuditLog(path) for _ in range(4)]

    def write(log: AuditLog, n: int) -> None:
        for i in range(300):
            log.record("e", outcome="success", user=f"w{n}", detail="x" * (i % 50))

    threads = [threading.Thread(target=write, args=(log, n)) for n, log in enumerate(logs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = path.read_text().splitlines()
    assert len(lines) == 1200
    assert all(json.loads(line)["event"] == "e" for line in lines)


def test_secrets_shaped_values_are_redacted(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.log")
    jwt_like = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    log.record("login", outcome="failure", user=jwt_like)
    log.close()
    text = (tmp_path / "audit.log").read_text()
    assert jwt_like not in text and "**********" in text


def test_a_write_error_is_raised_every_time_and_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = AuditLog(tmp_path / "audit.log")
    assert log._fd is not None
    os.close(log._fd)
    log._fd = os.open(os.devnull, os.O_RDONLY)  # writes now fail with EBADF
    with caplog.at_level(logging.ERROR, logger="sealbox.service"):
        for event in ("a", "b"):
            with pytest.raises(AuditUnavailableError, match="Bad file descriptor"):
                log.record(event, outcome="success")
    assert [r.getMessage() for r in caplog.records] == [
        (
            f"cannot write the audit log {tmp_path / 'audit.log'}: Bad file descriptor; "
            "refusing requests until it can be"
        )
    ]
    log.close()


def test_no_path_writes_nothing() -> None:
    log = AuditLog(None)
    log.record("e", outcome="success")
    log.close()
