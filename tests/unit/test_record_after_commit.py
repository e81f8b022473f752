"""A change's audit record and what follows its commit: a failure after the commit (the
revocation lists' sweep, inside ``after_commit``) leaves the change recorded as made, with
no ``not_committed`` record; a failure before it is followed by one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sealbox.accounts.audit import NOT_COMMITTED, AuditLog, ChangeRecord
from sealbox.accounts.revocation import after_commit


class SweepFailed(Exception):
    """What a revocation-list write after the commit raised."""


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_failure_after_the_commit_writes_no_not_committed_record(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.log")
    record = ChangeRecord(log, "client.delete", user="admin", address=None)
    with pytest.raises(SweepFailed), record:
        record.write()  # the transaction's last step; it commits here
        with after_commit():
            raise SweepFailed
    log.close()
    assert [r["outcome"] for r in _records(tmp_path / "audit.log")] == ["success"]


def test_a_failure_before_the_commit_is_followed_by_a_not_committed_record(
    tmp_path: Path,
) -> None:
    log = AuditLog(tmp_path / "audit.log")
    record = ChangeRecord(log, "client.delete", user="admin", address=None)
    with pytest.raises(SweepFailed), record:
        record.write()
        raise SweepFailed  # the commit failed
    log.close()
    records = _records(tmp_path / "audit.log")
    assert [r["outcome"] for r in records] == ["success", "not_committed"]
    assert records[1]["detail"] == NOT_COMMITTED


def test_a_record_used_again_starts_uncommitted(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.log")
    record = ChangeRecord(log, "client.delete", user="admin", address=None)
    with record:
        record.write()
        with after_commit():
            pass
    with pytest.raises(SweepFailed), record:
        record.write()
        raise SweepFailed
    log.close()
    outcomes = [r["outcome"] for r in _records(tmp_path / "audit.log")]
    assert outcomes == ["success", "success", "not_committed"]
