"""The data folder is served by one service without Redis, and a folder whose master key or
database is not what its keys need is refused before anything is served or rebuilt."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_sealbox
from tests.service.conftest import PASSWORD, free_port, serve_process, shared_env


def _serve(data: Path, *, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """``sealbox serve`` on ``data`` that is expected to refuse (it would serve otherwise)."""
    return run_sealbox(
        ["serve", "--data-dir", data, "--port", str(free_port())], env=env or {}, timeout=60
    )


def test_a_second_service_without_redis_on_a_served_folder_is_refused_before_it_serves(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    with serve_process(tmp_path, data_dir=data) as first:
        r = _serve(data)
        stderr = r.stderr.decode()
        assert r.returncode == 1, stderr
        assert stderr.startswith(
            f"sealbox: error: another sealbox service (process {first.proc.pid}) serves "
            f"{data}; without Redis a service keeps revocations and the sign-in throttle "
            "to itself\n"
        )
        assert "SEALBOX_REDIS_URL" in stderr and "sealbox service on" not in stderr
        # A service with Redis is refused beside it too: the first one shares nothing.
        r = _serve(data, env=shared_env())
        assert r.returncode == 1
        assert r.stderr.decode().startswith(
            f"sealbox: error: another sealbox service (process {first.proc.pid}) serves "
            f"{data} without Redis\n"
        )
        # Checking the folder beside it is not serving it.
        assert run_sealbox(["serve", "--data-dir", data, "--check"]).returncode == 0
        with first.client() as c:
            assert c.get("/health").status_code == 200


def test_a_killed_service_leaves_its_folder_free_for_the_next(tmp_path: Path) -> None:
    data = tmp_path / "data"
    # Killed on purpose: it ends by SIGKILL, not by the harness's SIGTERM.
    with serve_process(tmp_path, data_dir=data, expect_exit=-signal.SIGKILL) as first:
        os.kill(first.proc.pid, signal.SIGKILL)
        first.proc.wait(30)
        with serve_process(tmp_path, data_dir=data) as second, second.client() as c:
            assert c.get("/health").status_code == 200


def test_services_with_redis_share_a_folder(tmp_path: Path) -> None:
    data, env = tmp_path / "data", shared_env()
    with (
        serve_process(tmp_path, data_dir=data, env=env) as one,
        serve_process(tmp_path, data_dir=data, env=env) as two,
    ):
        for srv in (one, two):
            with srv.client() as c:
                assert c.get("/health").status_code == 200


@pytest.fixture
def made(tmp_path: Path) -> Path:
    """A provisioned data folder with one account."""
    data = tmp_path / "data"
    assert run_sealbox(["serve", "--data-dir", data, "--check"]).returncode == 0
    r = run_sealbox(
        ["users", "create", "alice", "--data-dir", data],
        input=PASSWORD.encode(),
        env={"SEALBOX_PASSWORD_PROFILE": "test"},
    )
    assert r.returncode == 0, r.stderr
    return data


def test_a_master_key_that_does_not_open_the_keyset_is_refused_by_the_check(made: Path) -> None:
    key = made / "master.key"
    other = "sealbox-master-key/1 " + "A" * 43 + "\n"  # well-formed, but not this folder's
    key.write_text(other)
    for args in (["serve", "--data-dir", made, "--check"], ["serve", "--data-dir", made]):
        r = run_sealbox([*args, "--port", str(free_port())], timeout=60)
        stderr = r.stderr.decode()
        assert r.returncode == 1, stderr
        assert stderr.startswith(
            f"sealbox: error: the master key {key} does not open the signing keyset "
            f"{made / 'jwt-keyset.sealed'}"
        )
        assert "Traceback" not in stderr and "sealbox service on" not in stderr
    key.write_text("not a key\n")
    r = run_sealbox(["serve", "--data-dir", made, "--check"])
    assert r.returncode == 1
    assert r.stderr.decode().splitlines() == [
        (
            f"sealbox: error: {key} is not a sealbox master key (sealbox-master-key/1 and 32 "
            "bytes in base64)"
        ),
        "sealbox: hint: restore it from a backup: what the folder seals can be opened with it only",
    ]


def test_an_emptied_database_beside_the_keys_is_refused_not_rebuilt(made: Path) -> None:
    database = made / "sealbox.db"
    for suffix in ("-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    database.write_bytes(b"")
    for args in (
        ["serve", "--data-dir", made, "--check"],
        ["users", "list", "--data-dir", made],
        ["users", "create", "bob", "--data-dir", made],
    ):
        r = run_sealbox(args, input=PASSWORD.encode())
        stderr = r.stderr.decode()
        assert r.returncode == 1, (args, stderr)
        assert stderr.startswith(
            f"sealbox: error: the data folder holds keys but its database {database} is empty"
        ), stderr
        assert database.stat().st_size == 0


def test_a_first_start_killed_before_its_keys_starts_again(tmp_path: Path) -> None:
    # The database is made before the keys, so a folder with keys always has one: a
    # first start stopped before its keys leaves a folder the next start completes.
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "sealbox.db").touch(mode=0o600)
    r = run_sealbox(["serve", "--data-dir", data, "--check"])
    assert r.returncode == 0, r.stderr
    assert (data / "master.key").exists() and (data / "sealbox.db").stat().st_size > 0


def test_an_app_start_makes_its_tables_before_any_key_and_a_failed_one_leaves_no_keys(
    tmp_path: Path,
) -> None:
    from sealbox.accounts import make_engine, migrate
    from sealbox.service import DataDir

    data = DataDir(tmp_path / "data")
    url = f"sqlite+aiosqlite:///{data.path / 'sealbox.db'}"
    seen: list[bool] = []

    async def start(*, fail: bool) -> None:
        engine = make_engine(url)

        async def tables() -> None:
            seen.append(data.master_key_file.exists() or data.keyset_file.exists())
            if fail:
                raise OSError(28, "No space left on device")
            await migrate(engine)

        try:
            await data.aprovision(tls=False, sqlite=True, migrate=tables)
        finally:
            await engine.dispose()

    with pytest.raises(OSError, match="No space left"):
        asyncio.run(start(fail=True))
    assert not data.master_key_file.exists() and not data.keyset_file.exists()
    asyncio.run(start(fail=False))
    assert seen == [False, False]
    assert data.master_key_file.exists() and data.keyset_file.exists()
    # What the start left is a whole folder for the service and the admin commands.
    r = run_sealbox(["users", "create", "bob", "--data-dir", data.path], input=PASSWORD.encode())
    assert r.returncode == 0, r.stderr
    assert run_sealbox(["serve", "--data-dir", data.path, "--check"]).returncode == 0


def test_a_lost_signing_keyset_beside_accounts_is_refused_and_replaced_only_on_purpose(
    tmp_path: Path,
) -> None:
    # A new keyset was made in its place, announced only by "created signing keyset",
    # and every token issued before stopped verifying.
    data, fresh = tmp_path / "data", tmp_path / "fresh"
    for folder in (data, fresh):
        assert run_sealbox(["serve", "--check", "--data-dir", folder]).returncode == 0
    made = run_sealbox(
        ["users", "create", "ops", "--data-dir", data],
        input=PASSWORD.encode(),
        env={"SEALBOX_PASSWORD_PROFILE": "test"},
    )
    assert made.returncode == 0, made.stderr.decode()
    keyset = data / "jwt-keyset.sealed"
    keyset.unlink()
    r = run_sealbox(["serve", "--check", "--data-dir", data], timeout=60)
    assert r.returncode == 1
    assert r.stderr.decode() == (
        f"sealbox: error: the data folder's signing keyset {keyset} is missing, and its "
        "database holds accounts: a new keyset would make every token issued so far invalid\n"
        "sealbox: hint: restore jwt-keyset.sealed from a backup (it is sealed under this "
        "master.key); to start a new signing keyset on purpose, ending every session, run "
        "'sealbox serve --new-signing-keyset' once\n"
    )
    assert not keyset.exists()
    r = run_sealbox(["serve", "--check", "--new-signing-keyset", "--data-dir", data])
    assert r.returncode == 0 and f"created signing keyset {keyset}\n" in r.stderr.decode()
    # A folder with nothing issued gets its keyset made without a word.
    (fresh / "jwt-keyset.sealed").unlink()
    assert run_sealbox(["serve", "--check", "--data-dir", fresh]).returncode == 0
    assert (fresh / "jwt-keyset.sealed").exists()


def test_an_app_start_given_its_engine_refuses_a_lost_keyset_beside_accounts(
    tmp_path: Path,
) -> None:
    from sealbox.accounts import make_engine, migrate
    from sealbox.exceptions import ConfigError
    from sealbox.service import DataDir

    data, fresh = DataDir(tmp_path / "data"), DataDir(tmp_path / "fresh")
    for folder in (data, fresh):
        assert run_sealbox(["serve", "--check", "--data-dir", folder.path]).returncode == 0
    made = run_sealbox(
        ["users", "create", "ops", "--data-dir", data.path],
        input=PASSWORD.encode(),
        env={"SEALBOX_PASSWORD_PROFILE": "test"},
    )
    assert made.returncode == 0, made.stderr.decode()
    data.keyset_file.unlink()
    fresh.keyset_file.unlink()

    async def start(folder: DataDir, *, new_keyset: bool = False) -> list[str]:
        engine = make_engine(f"sqlite+aiosqlite:///{folder.path / 'sealbox.db'}")
        try:
            return await folder.aprovision(
                tls=False,
                sqlite=True,
                migrate=lambda: migrate(engine),
                engine=engine,
                new_keyset=new_keyset,
            )
        finally:
            await engine.dispose()

    with pytest.raises(ConfigError) as refused:
        asyncio.run(start(data))
    assert refused.value.code == "keyset_lost"
    assert "database holds accounts" in str(refused.value)
    assert "new_keyset=True to aprovision()" in (refused.value.hint or "")
    assert not data.keyset_file.exists()
    assert asyncio.run(start(data, new_keyset=True)) == [f"signing keyset {data.keyset_file}"]
    # A folder with nothing issued gets its keyset made without a word.
    assert asyncio.run(start(fresh)) == [f"signing keyset {fresh.keyset_file}"]


def test_a_lost_signing_keyset_beside_accounts_in_postgresql_is_refused(tmp_path: Path) -> None:
    from tests.service.conftest import private_shared_state

    with private_shared_state("keyset_lost") as shared:
        env = {f"SEALBOX_{k.upper()}": v for k, v in shared.items()}
        data = tmp_path / "data"
        assert run_sealbox(["serve", "--check", "--data-dir", data], env=env).returncode == 0
        r = run_sealbox(["clients", "create", "reporting", "--data-dir", data], env=env)
        assert r.returncode == 0, r.stderr.decode()
        (data / "jwt-keyset.sealed").unlink()
        r = run_sealbox(["serve", "--check", "--data-dir", data], env=env, timeout=60)
        assert r.returncode == 1
        assert "its database holds registered clients:" in r.stderr.decode()
        assert not (data / "jwt-keyset.sealed").exists()
