"""``sealbox serve`` as an operator meets it: refusals that leave nothing behind, and
what the service does with the files and processes it is given."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests._tls import make_pki
from tests.conftest import run_sealbox


def test_a_check_refused_for_what_lies_outside_the_data_folder_leaves_no_folder_behind(
    tmp_path: Path,
) -> None:
    # A database, a Redis or a certificate the service cannot use was found only after
    # the data folder, its master key, keyset and database had been made, unreported.
    pki = make_pki(tmp_path / "pki")
    cases = [
        (
            {"SEALBOX_DATABASE_URL": "postgresql+asyncpg://u:canary-db-pw-41@127.0.0.1:1/x"},
            [],
            "cannot open the database",
        ),
        ({"SEALBOX_REDIS_URL": "redis://:canary-redis-pw-41@127.0.0.1:1/0"}, [], "Redis"),
        ({}, ["--cert", pki.path("server.crt"), "--key", pki.path("backup.key")], "match"),
    ]
    for env, args, said in cases:
        data = tmp_path / "data"
        r = run_sealbox(["serve", "--check", "--data-dir", data, *args], env=env, timeout=60)
        stderr = r.stderr.decode()
        assert r.returncode == 1, stderr
        assert stderr.startswith("sealbox: error: ") and said in stderr.splitlines()[0]
        assert "\nsealbox: hint: " in stderr
        assert "canary" not in stderr and "created" not in stderr
        assert not data.exists(), sorted(p.name for p in data.rglob("*"))


def _mark_newer(data: Path, database_url: str | None) -> None:
    """Make the database say it was migrated by a newer sealbox (an unknown revision)."""
    import asyncio

    from sqlalchemy import text

    from sealbox.service.db import make_engine

    async def stamp() -> None:
        engine = make_engine(database_url or f"sqlite+aiosqlite:///{data / 'sealbox.db'}")
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfeedbeef'"))
        await engine.dispose()

    asyncio.run(stamp())


def test_a_database_from_a_newer_sealbox_is_refused_by_name_not_as_an_internal_error(
    tmp_path: Path,
) -> None:
    from tests.service.conftest import private_shared_state

    # Alembic's "Can't locate revision" reached the operator as "unexpected internal
    # error (CommandError)", after a new data folder had been made for it.
    with private_shared_state("newer") as shared:
        for env in ({}, {"SEALBOX_DATABASE_URL": shared["database_url"]}):
            data = tmp_path / f"data{len(env)}"
            assert run_sealbox(["serve", "--check", "--data-dir", data], env=env).returncode == 0
            _mark_newer(data, env.get("SEALBOX_DATABASE_URL"))
            fresh = tmp_path / f"fresh{len(env)}"
            for folder in (data, fresh) if env else (data,):
                r = run_sealbox(["serve", "--check", "--data-dir", folder], env=env, timeout=60)
                stderr = r.stderr.decode()
                assert r.returncode == 1, stderr
                first, hint = stderr.splitlines()
                assert first.startswith("sealbox: error: the database ")
                assert "f00dfeedbeef" in first and "newer sealbox" in first
                assert hint.startswith("sealbox: hint: ")
            assert not fresh.exists()


def test_a_lost_master_key_is_refused_and_not_replaced_by_a_new_one(tmp_path: Path) -> None:
    # A new master key was made beside the keyset and database sealed under the lost
    # one, and the refusal that followed (it does not open the keyset) did not say so.
    data = tmp_path / "data"
    assert run_sealbox(["serve", "--check", "--data-dir", data]).returncode == 0
    (data / "master.key").unlink()
    r = run_sealbox(["serve", "--check", "--data-dir", data], timeout=60)
    stderr = r.stderr.decode()
    assert r.returncode == 1, stderr
    assert stderr == (
        f"sealbox: error: the data folder holds a signing keyset but its master key "
        f"{data / 'master.key'} is missing\n"
        "sealbox: hint: restore it from a backup (with the keyset and database it "
        "sealed); to start over on purpose, move the data folder away (its keys, "
        "accounts and transit keys go with it)\n"
    )
    assert not (data / "master.key").exists()


@contextmanager
def _read_only_mount(where: Path) -> Iterator[Path]:
    """A small tmpfs at ``where``, remounted read-only once the block has filled it."""
    if os.name != "posix" or os.geteuid() != 0:
        pytest.skip("needs root to mount")
    where.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", where]).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield where
    finally:
        subprocess.run(["umount", where], check=True)


def test_a_data_folder_on_a_read_only_file_system_is_one_error_with_a_hint(
    tmp_path: Path,
) -> None:
    # Each step failed with the system's words alone ("…/.serve.lock: read-only file
    # system", "cannot lock …/master.key"), without a hint.
    with _read_only_mount(tmp_path / "ro") as ro:
        data = ro / "data"
        assert run_sealbox(["serve", "--check", "--data-dir", data]).returncode == 0
        subprocess.run(["mount", "-o", "remount,ro", ro], check=True)
        for folder, args in ((data, ["--check"]), (data, ["--port", "0"]), (ro / "new", [])):
            r = run_sealbox(["serve", "--data-dir", folder, *args], timeout=60)
            stderr = r.stderr.decode()
            assert r.returncode == 1, stderr
            where = data if folder == data else ro
            assert stderr == (
                f"sealbox: error: the data folder {folder} cannot be written: {where} is "
                "on a read-only file system\n"
                "sealbox: hint: the service writes its database, audit log and locks "
                "there: mount it read-write, or set SEALBOX_DATA_DIR to a writable folder\n"
            )


def _wait_for(path: Path, text: str, proc: subprocess.Popen[bytes]) -> None:
    """Wait until ``text`` is in the file ``path`` (a server's stderr)."""
    import time

    deadline = time.monotonic() + 60
    while text not in path.read_text(errors="replace"):
        assert proc.poll() is None and time.monotonic() < deadline, path.read_text()
        time.sleep(0.05)


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
def test_a_stop_signal_finishes_the_request_in_flight_and_exits_0(
    tmp_path: Path, signal_name: str
) -> None:
    import json
    import signal
    import socket
    import ssl
    import sys

    # SIGTERM (systemd, docker stop) ended the process by the signal uvicorn raises again
    # after its graceful shutdown: exit 143, where SIGINT's ended with 0.
    data, err = tmp_path / "data", tmp_path / "serve.err"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    env["SEALBOX_PASSWORD_PROFILE"] = "test"
    command = [sys.executable, "-m", "sealbox", "serve", "--data-dir", str(data)]
    with err.open("wb") as out:
        proc = subprocess.Popen([*command, "--port", "0"], env=env, stderr=out)
    try:
        _wait_for(err, "Application startup complete", proc)
        port = int(re.findall(r"sealbox service on https://localhost:(\d+) ", err.read_text())[0])
        body = json.dumps({"username": "in-flight", "password": "canary-pw-inflight-9"}).encode()
        context = ssl.create_default_context(cafile=str(data / "tls" / "ca.crt"))
        raw = socket.create_connection(("127.0.0.1", port), timeout=30)
        with context.wrap_socket(raw, server_hostname="localhost") as sock:
            sock.sendall(
                b"POST /auth/register HTTP/1.1\r\nHost: localhost\r\n"
                b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body)
            )
            # The app reads the body (uvicorn says "100 Continue" then): the request runs.
            assert sock.recv(4096).startswith(b"HTTP/1.1 100 Continue")
            proc.send_signal(getattr(signal, signal_name))
            _wait_for(err, "Waiting for connections to close", proc)
            sock.sendall(body)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 201 "), answer
        assert proc.wait(60) == 0, err.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = err.read_text()
    assert "canary-pw-inflight-9" not in stderr and "Traceback" not in stderr


def test_the_address_of_an_ipv6_host_is_a_url_with_brackets() -> None:
    from sealbox.service.serve import service_url
    from sealbox.service.settings import ServiceSettings

    # "https://:::8443" was printed for --host ::, a URL no client can open.
    shown = {
        host: service_url(ServiceSettings(_env_file=None, host=host, port=8443))
        for host in ("::", "fe80::1", "::1", "127.0.0.1", "10.0.0.5", "sealbox.internal")
    }
    assert shown == {
        "::": "https://[::]:8443",
        "fe80::1": "https://[fe80::1]:8443",
        "::1": "https://localhost:8443",
        "127.0.0.1": "https://localhost:8443",
        "10.0.0.5": "https://10.0.0.5:8443",
        "sealbox.internal": "https://sealbox.internal:8443",
    }
