"""One TOTP code, and one recovery code, checked by several processes sharing one SQLite
database at the same instant: each is accepted once between them.

Every process has its own engine (its own connections), as the workers of a service on
SQLite do. Each connects, says it is ready, and checks the code when the test says go.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sealbox.accounts.store import Store
from sealbox.accounts.totp import TotpSecretSealer, decode_secret, totp
from sealbox.accounts.totp_store import TotpStore
from sealbox.service.db import make_engine, migrate, sessionmaker
from tests._race import clean_env

MASTER = bytes(range(32))
T0 = 1_800_000_000.0
LATER = T0 + 200  # past the confirming code's step
PROCESSES = 4

_CHECKER = """
import asyncio, os, sys, time
from sealbox.accounts.totp import TotpError, TotpSecretSealer
from sealbox.accounts.totp_store import TotpStore
from sealbox.service.db import make_engine, sessionmaker

url, user_id, folder, me = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
otp = sys.stdin.read()  # the code, never on the command line

async def main():
    engine = make_engine(url)
    store = TotpStore(sessionmaker(engine), TotpSecretSealer(bytes(range(32))),
                      clock=lambda: float(sys.argv[5]))
    async with engine.connect():
        pass  # connected before the start: the race is the check's alone
    open(os.path.join(folder, "ready-" + me), "w").close()
    while not os.path.exists(os.path.join(folder, "go")):
        time.sleep(0.001)
    try:
        await store.check_login(user_id, otp)
        print("ok")
    except TotpError as exc:
        print(exc.code)
    finally:
        await engine.dispose()

asyncio.run(main())
"""


async def _enrolled(url: str) -> tuple[int, bytes, list[str]]:
    engine = make_engine(url)
    await migrate(engine)
    sessions = sessionmaker(engine)
    user_id = (await Store(sessions, 3600).create_user("racer", "x", [])).id
    store = TotpStore(sessions, TotpSecretSealer(MASTER), clock=lambda: T0)
    key = decode_secret((await store.begin(user_id, "racer")).secret)
    codes = await store.confirm(user_id, totp(key, T0))
    await engine.dispose()
    return user_id, key, codes


@pytest.mark.parametrize("kind", ["totp", "recovery"])
def test_one_code_checked_by_several_processes_at_once_is_accepted_once(
    tmp_path: Path, kind: str
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'totp.db'}"
    user_id, key, codes = asyncio.run(_enrolled(url))
    otp = totp(key, LATER) if kind == "totp" else codes[0]
    folder = tmp_path / "start"
    folder.mkdir()
    args = [url, str(user_id), str(folder)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHECKER, *args, str(i), repr(LATER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=clean_env(),
        )
        for i in range(PROCESSES)
    ]
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(otp.encode())
        proc.stdin.close()
    while len(list(folder.glob("ready-*"))) < PROCESSES:
        assert all(proc.poll() is None for proc in procs), "a checker ended before the start"
        time.sleep(0.01)
    (folder / "go").touch()
    answers = []
    for proc in procs:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()
        answers.append(proc.stdout.read().decode().strip())
        proc.stdout.close()
        proc.stderr.close()
    assert sorted(answers) == ["ok"] + ["totp_code_invalid"] * (PROCESSES - 1), answers
