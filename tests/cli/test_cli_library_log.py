"""The library's log records in a command's run: `sealbox: warning:` lines, or the
command's own error line alone, never a bare line of the service's wording.

The real `sealbox` runs in a subprocess, where nothing else configures logging (in the
suite's own process, pytest's handlers would hide a bare line).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sealbox.cli._library_log import library_log
from tests.conftest import run_sealbox

PASSWORD = b"a long enough password"


def test_users_change_refused_by_a_full_audit_log_prints_its_error_and_hint_alone(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    made = run_sealbox(["users", "create", "alice", "--data-dir", data], input=PASSWORD)
    assert made.returncode == 0, made.stderr
    r = run_sealbox(
        ["users", "disable", "alice", "--data-dir", data],
        env={"SEALBOX_AUDIT_LOG": "/dev/full"},
    )
    assert r.returncode == 1
    assert r.stdout == b""
    assert r.stderr.decode() == (
        "sealbox: error: did not disable 'alice': the audit log cannot be written "
        "(no space left on device)\n"
        "sealbox: hint: make the audit log writable again (free room on its disk), then retry\n"
    )


def test_service_keyset_rotation_unrecorded_prints_its_error_and_hint_alone(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    made = run_sealbox(["serve", "--check", "--data-dir", data])
    assert made.returncode == 0, made.stderr
    r = run_sealbox(
        ["jwt", "keyset", "rotate", "--data-dir", data], env={"SEALBOX_AUDIT_LOG": "/dev/full"}
    )
    assert r.returncode == 1
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("sealbox: error: rotated to key ")
    assert lines[0].endswith(
        ", but the audit log cannot be written (no space left on device): it holds no record of this"
    )
    assert lines[1].startswith("sealbox: hint: the change stands and needs no retry")


def test_a_library_warning_is_a_sealbox_warning_line_once_the_command_succeeded(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with library_log() as log:
        logging.getLogger("sealbox.accounts").warning("usernames kept as they are: %r", "Alice")
        assert capsys.readouterr().err == ""
        log.done(0)
    assert capsys.readouterr().err == "sealbox: warning: usernames kept as they are: 'Alice'\n"


def test_the_error_the_library_logged_is_not_shown_beside_a_failed_command_s_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The error is the failure the command's own error line reports; the warning is not.
    with library_log() as log:
        logging.getLogger("sealbox.accounts").error("cannot write the audit log")
        logging.getLogger("sealbox.accounts").warning("a warning on the way")
        log.done(1)
    assert capsys.readouterr().err == "sealbox: warning: a warning on the way\n"


def test_a_logger_with_a_handler_of_its_own_is_left_to_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Its lines speak of a service's requests: its NullHandler keeps them from a command.
    from sealbox.accounts import outage

    with library_log() as log:
        outage.log.warning("PostgreSQL is unavailable: requests needing it are refused (503)")
        log.done(0)
    assert capsys.readouterr().err == ""


def test_the_handler_is_gone_after_the_command() -> None:
    before = list(logging.getLogger("sealbox").handlers)
    with library_log():
        pass
    assert logging.getLogger("sealbox").handlers == before
