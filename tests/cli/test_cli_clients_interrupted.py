"""Ctrl-C or SIGTERM reaching ``sealbox clients create|rotate-secret`` once the new secret
is in the database: the secret is printed all the same (it can be shown only then).

The child program sends the signal to itself right after the audit record of the change
is written, that is after the database commit and before anything is printed: the
wrapper only chooses the moment; the signal and its handling are the real ones.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sealbox.accounts.clients import ClientStore
from sealbox.service.db import make_engine, sessionmaker
from tests._race import clean_env
from tests.conftest import run_sealbox

_SIGNAL_AFTER_THE_COMMIT = """
import os, sys
from sealbox.accounts.audit import AuditLog
from sealbox.cli import main
signum = int(sys.argv[1])
record = AuditLog.record
def record_then_signal(self, *args, **kwargs):
    record(self, *args, **kwargs)
    os.kill(os.getpid(), signum)
AuditLog.record = record_then_signal
sys.exit(main(sys.argv[2:]))
"""


def _signalled(signum: int, args: list[object]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-c", _SIGNAL_AFTER_THE_COMMIT, str(signum), *map(str, args)],
        capture_output=True,
        env=clean_env(),
        timeout=120,
        check=False,
    )


def _secret_works(data: Path, client_id: str, secret: str) -> bool:
    async def check() -> bool:
        engine = make_engine(f"sqlite+aiosqlite:///{data / 'sealbox.db'}")
        try:
            found = await ClientStore(sessionmaker(engine)).authenticate_secret(client_id, secret)
        finally:
            await engine.dispose()
        return found is not None

    return asyncio.run(check())


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_after_clients_create_commits_still_prints_the_working_secret(
    tmp_path: Path, signum: int
) -> None:
    data = tmp_path / "data"
    r = _signalled(signum, ["clients", "create", "billing", "--json", "--data-dir", data])
    assert r.returncode in (128 + signum, -signum), r.stderr
    assert b"Traceback" not in r.stderr
    made = json.loads(r.stdout)
    assert made["name"] == "billing"
    assert _secret_works(data, made["client_id"], made["client_secret"])


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_after_rotate_secret_commits_still_prints_the_new_working_secret(
    tmp_path: Path, signum: int
) -> None:
    data = tmp_path / "data"
    made = run_sealbox(["clients", "create", "billing", "--json", "--data-dir", data])
    assert made.returncode == 0, made.stderr
    old = json.loads(made.stdout)
    r = _signalled(signum, ["clients", "rotate-secret", "billing", "--data-dir", data])
    assert r.returncode in (128 + signum, -signum), r.stderr
    lines = r.stdout.decode().splitlines()
    assert lines[0] == f"client_id: {old['client_id']}"
    secret = lines[1].removeprefix("client_secret: ")
    assert secret != old["client_secret"]
    # The old secret stopped working (no overlap): the printed one is the only way in.
    assert not _secret_works(data, old["client_id"], old["client_secret"])
    assert _secret_works(data, old["client_id"], secret)
