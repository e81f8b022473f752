"""A change whose audit record cannot be written because the log became unwritable after it
was opened (its file system remounted read-only, a rotation that left a file this user may
not write): the record is written in the change's transaction, so the change is not made
(``audit_unavailable``), and the hint says what makes the log writable again, not only
"free room on its disk"."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.service.conftest import PASSWORD, make_settings


def _disable_after(settings: Any, before: Callable[[], None]) -> Callable[[Any], Awaitable[Any]]:
    """Disable alice, ``before`` done first: the audit log is open by then."""

    async def operation(admin: Any) -> Any:
        before()
        return await admin.disable("alice")

    return operation


def _unaudited(settings: Any, before: Callable[[], None]) -> Any:
    from sealbox.exceptions import StorageError
    from sealbox.service import administer_accounts

    with pytest.raises(StorageError) as info:
        administer_accounts(
            settings, _disable_after(settings, before), audit=("admin.disable", "alice")
        )
    return info.value


def _settings_with_alice(tmp_path: Path, log: Path) -> Any:
    from sealbox.service import administer_accounts, create_user

    settings = make_settings(tmp_path / "data", audit_log=log)
    create_user(settings, "alice", lambda _name: PASSWORD)
    assert not administer_accounts(settings, lambda admin: admin.show("alice")).disabled
    return settings


def test_a_log_whose_file_system_became_read_only_is_named_with_a_remount(
    tmp_path: Path,
) -> None:
    from sealbox.service import administer_accounts

    logs = tmp_path / "logs"
    settings = _settings_with_alice(tmp_path, logs / "audit.log")
    mounted: list[Path] = []

    def read_only_file_system_at_the_log() -> None:
        # As a rotation onto a file system that was remounted read-only: the open file is
        # gone from its path, and the path is on a read-only file system.
        (logs / "audit.log").rename(tmp_path / "audit.log.1")
        command = ["mount", "-t", "tmpfs", "-o", "ro,size=64k,mode=0700", "tmpfs", str(logs)]
        if subprocess.run(command, capture_output=True, check=False).returncode:
            pytest.skip("mounting a tmpfs needs root")
        mounted.append(logs)

    try:
        error = _unaudited(settings, read_only_file_system_at_the_log)
    finally:
        for folder in mounted:
            subprocess.run(["umount", str(folder)], check=True)
    assert error.code == "audit_unavailable"
    problem = f"cannot open the audit log {logs / 'audit.log'}: read-only file system"
    assert error.facts == {"problem": problem}
    assert str(error) == f"did not disable 'alice': the audit log cannot be written ({problem})"
    assert error.hint == (
        "make the audit log writable again (mount its file system read-write again), then retry"
    )
    assert not administer_accounts(settings, lambda admin: admin.show("alice")).disabled


def test_a_log_rotated_to_a_file_this_user_may_not_write_is_named_with_its_mode(
    tmp_path: Path,
) -> None:
    from sealbox.service import administer_accounts

    log = tmp_path / "logs" / "audit.log"
    settings = _settings_with_alice(tmp_path, log)
    root = os.geteuid() == 0

    def rotate_to_an_unwritable_file() -> None:
        log.rename(log.with_name("audit.log.1"))
        log.touch(mode=0o600)
        if not root:
            log.chmod(0o400)
        elif subprocess.run(["chattr", "+i", log], capture_output=True, check=False).returncode:
            pytest.skip("root, on a file system without the immutable flag (chattr +i)")

    try:
        error = _unaudited(settings, rotate_to_an_unwritable_file)
    finally:
        if root:
            subprocess.run(["chattr", "-i", log], capture_output=True, check=False)
    reason = "operation not permitted" if root else "permission denied"
    assert error.code == "audit_unavailable"
    assert error.facts == {"problem": f"cannot open the audit log {log}: {reason}"}
    assert error.hint == (
        "make the audit log writable again (let this user write it (its mode, owner or "
        "immutable flag may have changed since it was opened), or free room on its disk), "
        "then retry"
    )
    assert not administer_accounts(settings, lambda admin: admin.show("alice")).disabled
