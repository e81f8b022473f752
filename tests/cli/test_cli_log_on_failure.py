"""A failed command still shows the library's warnings about other things, before its
error line; the library's error record, which that line reports, is not shown."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sealbox.cli._library_log import library_log
from tests.conftest import run_sealbox
from tests.service.test_username_migration import OLD_NAMES, _database_at

FULL = {"SEALBOX_AUDIT_LOG": "/dev/full"}
ERROR = (
    "sealbox: error: did not disable '{}': the audit log cannot be written "
    "(no space left on device)"
)
HINT = "sealbox: hint: make the audit log writable again (free room on its disk), then retry"


def test_a_failed_command_prints_an_unrelated_library_warning_before_its_error(
    tmp_path: Path,
) -> None:
    # Accounts from before the username rules: the upgrade warns, then the audit log
    # (full) fails the change and logs its own error, which the error line reports.
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    _database_at(data / "sealbox.db", "0002", OLD_NAMES)
    (data / "sealbox.db").chmod(0o600)
    r = run_sealbox(["users", "disable", "carol", "--data-dir", data], env=FULL)
    assert r.returncode == 1
    assert r.stdout == b""
    kept = "sealbox: warning: usernames {}, kept as they are: {}"
    assert r.stderr.decode().splitlines() == [
        kept.format("that are one name under RFC 8265", "'alice', 'Alice'"),
        kept.format("that look alike (UTS #39)", "'bob', 'b\u043eb'"),
        kept.format("the RFC 8265 rules refuse", "'with space'"),
        ERROR.format("carol"),
        HINT,
    ]


def test_a_failed_command_whose_only_log_line_is_its_error_prints_the_error_alone(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    made = run_sealbox(["users", "create", "alice", "--data-dir", data], input=b"a long password")
    assert made.returncode == 0, made.stderr
    r = run_sealbox(["users", "disable", "alice", "--data-dir", data], env=FULL)
    assert r.returncode == 1
    assert r.stderr.decode().splitlines() == [ERROR.format("alice"), HINT]


def test_on_failure_warnings_are_shown_and_errors_dropped_in_the_order_logged(
    capsys: pytest.CaptureFixture[str],
) -> None:
    accounts = logging.getLogger("sealbox.accounts")
    with library_log() as log:
        accounts.warning("first %s", "warning")
        accounts.error("cannot write the audit log")
        accounts.critical("a critical record")
        accounts.warning("second warning")
        log.failing()
        assert capsys.readouterr().err == (
            "sealbox: warning: first warning\nsealbox: warning: second warning\n"
        )
        accounts.warning("after the error line")
        accounts.error("another error")
        log.done(1)
    assert capsys.readouterr().err == "sealbox: warning: after the error line\n"


def test_on_success_every_record_is_a_warning_line_errors_included(
    capsys: pytest.CaptureFixture[str],
) -> None:
    accounts = logging.getLogger("sealbox.accounts")
    with library_log() as log:
        accounts.error("an error the command got past")
        accounts.warning("a warning")
        log.done(0)
    assert capsys.readouterr().err == (
        "sealbox: warning: an error the command got past\nsealbox: warning: a warning\n"
    )
