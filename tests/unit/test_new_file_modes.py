"""Files sealbox makes and opens again for writing are 0600 whatever the umask.

Under umask 0277 a file made with mode 0600 would be 0400: its owner (not root) could
not open it for writing again. Each case runs in a process of its own, under the umask.
The tests run as root, which opens a 0400 file all the same: the mode is what is checked.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests._race import clean_env

UMASKS = pytest.mark.parametrize("umask", [0o277, 0o000], ids=["umask277", "umask000"])


def _run_under(umask: int, cwd: Path, code: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"import os; os.umask({umask})\n{code}"],
        capture_output=True,
        cwd=cwd,
        env=clean_env(),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@UMASKS
def test_a_new_sqlite_database_and_its_lock_file_are_0600(tmp_path: Path, umask: int) -> None:
    code = (
        "import asyncio\n"
        "from sealbox.accounts.database import make_engine, migrate\n"
        "async def main():\n"
        "    engine = make_engine('sqlite+aiosqlite:///accounts.db')\n"
        "    try:\n"
        "        await migrate(engine)\n"
        "    finally:\n"
        "        await engine.dispose()\n"
        "asyncio.run(main())\n"
    )
    _run_under(umask, tmp_path, code)
    assert _mode(tmp_path / "accounts.db") == 0o600
    assert _mode(tmp_path / ".accounts.db.lock") == 0o600


@UMASKS
def test_a_new_audit_log_outside_a_data_folder_is_0600(tmp_path: Path, umask: int) -> None:
    code = (
        "from pathlib import Path\n"
        "from sealbox.accounts.audit import AuditLog\n"
        "AuditLog(Path('logs/audit.log')).close()\n"
    )
    _run_under(umask, tmp_path, code)
    assert _mode(tmp_path / "logs/audit.log") == 0o600


def test_an_audit_log_there_already_keeps_its_mode(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.touch()
    log.chmod(0o640)
    code = "from pathlib import Path\nfrom sealbox.accounts.audit import AuditLog\n"
    _run_under(0o022, tmp_path, code + "AuditLog(Path('audit.log')).close()\n")
    assert _mode(log) == 0o640


@UMASKS
def test_the_lock_file_of_a_file_not_written_yet_is_0600(tmp_path: Path, umask: int) -> None:
    code = "from sealbox._util.locks import locked\nwith locked('new.json'):\n    pass\n"
    _run_under(umask, tmp_path, code)
    assert _mode(tmp_path / ".new.json.lock") == 0o600


@UMASKS
def test_a_data_folders_serve_lock_is_0600(tmp_path: Path, umask: int) -> None:
    (tmp_path / "data").mkdir(mode=0o700)
    code = (
        "from sealbox.service.provision import DataDir\n"
        "DataDir('data').claim_for_serving(shared=False)\n"
    )
    _run_under(umask, tmp_path, code)
    assert _mode(tmp_path / "data/.serve.lock") == 0o600
