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
def _read_only_mount(where: Path, size: str = "1m") -> Iterator[Path]:
    """A small tmpfs at ``where``, remounted read-only once the block has filled it."""
    if os.name != "posix" or os.geteuid() != 0:
        pytest.skip("needs root to mount")
    where.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", where]).returncode:
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
        _wait_for(err, "Uvicorn running on", proc)  # listening: startup completes first
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
        for host in ("fe80::1", "::1", "127.0.0.1", "10.0.0.5", "sealbox.internal")
    }
    assert shown == {
        "fe80::1": "https://[fe80::1]:8443",
        "::1": "https://localhost:8443",
        "127.0.0.1": "https://localhost:8443",
        "10.0.0.5": "https://10.0.0.5:8443",
        "sealbox.internal": "https://sealbox.internal:8443",
    }


def test_every_interface_with_the_development_certificate_is_warned_of_once_and_named_by_localhost(
    tmp_path: Path,
) -> None:
    import signal
    import sys

    from sealbox.tls.client import secure_client

    # --host 0.0.0.0 printed "https://0.0.0.0:PORT", which no client can open, and said
    # nothing of the development certificate, which names only this machine's loopback.
    data, err = tmp_path / "data", tmp_path / "serve.err"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    command = [sys.executable, "-m", "sealbox", "serve", "--data-dir", str(data)]
    with err.open("wb") as out:
        proc = subprocess.Popen([*command, "--host", "0.0.0.0", "--port", "0"], env=env, stderr=out)
    try:
        _wait_for(err, "Uvicorn running on", proc)  # listening: startup completes first
        stderr = err.read_text()
        port = int(re.findall(r"sealbox service on https://localhost:(\d+) ", stderr)[0])
        with secure_client(ca=data / "tls" / "ca.crt", base_url=f"https://localhost:{port}") as c:
            assert c.get("/health").status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, err.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in err.read_text(), err.read_text()
    warnings = [line for line in err.read_text().splitlines() if "warning" in line.lower()]
    assert warnings == [
        (
            "sealbox: warning: listening on every interface (0.0.0.0) with the development "
            "certificate, which names only localhost, 127.0.0.1 and ::1: clients on other "
            "machines cannot verify it; give the service a certificate for the name they "
            "use (--cert and --key)"
        )
    ]
    assert "0.0.0.0:" not in err.read_text().split("sealbox service on ", 1)[1].splitlines()[0]


def test_every_interface_is_named_by_a_host_in_the_service_url() -> None:
    import socket

    from sealbox.service.serve import listen_warning, service_url
    from sealbox.service.settings import ServiceSettings

    def settings(host: str, **kw: object) -> ServiceSettings:
        return ServiceSettings(_env_file=None, host=host, port=8443, **kw)

    for host in ("0.0.0.0", "::"):
        assert service_url(settings(host)) == "https://localhost:8443"
        own = settings(host, cert="server.crt", key="server.key")
        assert service_url(own) == f"https://{socket.gethostname()}:8443"
        assert listen_warning(own) is None
        assert f"every interface ({host})" in (listen_warning(settings(host)) or "")
    for host in ("127.0.0.1", "::1", "localhost"):
        assert listen_warning(settings(host)) is None
    assert (listen_warning(settings("10.0.0.5")) or "").startswith("listening on 10.0.0.5 ")


def test_a_port_that_needs_privileges_is_refused_with_a_hint_that_fits(tmp_path: Path) -> None:
    import pwd

    from sealbox.exceptions import ConfigError
    from sealbox.service.serve import check_listen
    from sealbox.service.settings import ServiceSettings

    # EACCES on a port below 1024 was answered "choose another port or host, or stop
    # what listens there": nothing listens there. A real bind by an unprivileged process
    # (this one forked and, when run as root, turned into the user nobody).
    settings = ServiceSettings(_env_file=None, data_dir=tmp_path / "data", port=443)
    "localhost".encode("idna")  # the codec getaddrinfo loads: unreadable to the child
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child
        os.close(read)
        said = b"bound"
        try:
            if os.geteuid() == 0:
                nobody = pwd.getpwnam("nobody")
                os.setgroups([])
                os.setgid(nobody.pw_gid)
                os.setuid(nobody.pw_uid)
            check_listen(settings)
        except ConfigError as exc:
            said = f"{exc}\n{exc.hint}".encode()
        except BaseException as exc:  # noqa: BLE001 - told to the parent
            said = repr(exc).encode()
        os.write(write, said)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        said = pipe.read().decode()
    os.waitpid(child, 0)
    if said == "bound":
        pytest.skip("an unprivileged user may bind port 443 here (ip_unprivileged_port_start)")
    assert said == (
        "cannot listen on 127.0.0.1:443: permission denied\n"
        "the port needs privileges this user lacks: choose a port of 1024 or more (with a "
        "reverse proxy on 443 in front, if clients need that port), or give the service the "
        "CAP_NET_BIND_SERVICE capability"
    )


def test_a_full_disk_at_the_first_start_leaves_no_folder_behind(tmp_path: Path) -> None:
    # The new folder was left with sealbox.db and lock files, under an error that said
    # "nothing was changed".
    with _read_only_mount(tmp_path / "small", size="64k") as small:
        for data in (small / "data", small / "deeper" / "still" / "data"):
            r = run_sealbox(["serve", "--check", "--data-dir", data], timeout=60)
            stderr = r.stderr.decode()
            assert r.returncode == 1, stderr
            assert stderr.startswith("sealbox: error: cannot bring the database's schema up")
            assert "full (nothing was changed)\n" in stderr
            assert "created" not in stderr
            assert sorted(small.iterdir()) == []


def test_a_worker_that_dies_is_reported_at_the_warning_level(tmp_path: Path) -> None:
    import signal
    import time

    from tests.service._workers import worker_pids
    from tests.service.conftest import private_shared_state, serve_process

    # uvicorn's supervisor restarts it and says so at INFO: nothing at --log-level warning.
    with private_shared_state("dies") as shared:
        env = {f"SEALBOX_{k.upper()}": v for k, v in shared.items()}
        with serve_process(tmp_path, "--workers", "2", env=env, data_dir=tmp_path / "d") as srv:
            err = tmp_path / f"serve-{srv.port}.err"
            deadline = time.monotonic() + 60
            while len(workers := worker_pids(srv.proc.pid, srv.port)) < 2:
                assert time.monotonic() < deadline
                time.sleep(0.1)
            os.kill(workers[0], signal.SIGKILL)
            _wait_for(err, f"Child process [{workers[0]}] died", srv.proc)
            with srv.client() as c:
                assert c.get("/health").status_code == 200
    assert f"WARNING:  Child process [{workers[0]}] died" in srv.stderr.splitlines()
    assert "INFO" not in srv.stderr


@pytest.mark.parametrize("level", ["warning", "error", "info"])
def test_with_several_workers_sealbox_logs_at_the_level_asked_not_the_supervisors(
    level: str,
) -> None:
    # The workers' logging keeps uvicorn.error at INFO for the supervisor's line about a
    # dead worker; sealbox's logger took that level, and its INFO lines showed at warning.
    import logging.config

    from sealbox.service.app import _share_server_logging
    from sealbox.service.serve import _supervisor_log_config

    names = ("sealbox", "uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
    saved = {
        n: (lg.level, lg.handlers[:], lg.filters[:], lg.propagate, lg.disabled)
        for n in names
        if (lg := logging.getLogger(n))
    }
    root_handlers = logging.getLogger().handlers[:]
    logging.getLogger().handlers = []
    try:
        logging.config.dictConfig(_supervisor_log_config(level))
        _share_server_logging()
        assert logging.getLogger("sealbox").getEffectiveLevel() == getattr(logging, level.upper())
    finally:
        for n, (lvl, handlers, filters, propagate, disabled) in saved.items():
            lg = logging.getLogger(n)
            lg.setLevel(lvl)
            lg.handlers, lg.filters, lg.propagate, lg.disabled = (
                handlers,
                filters,
                propagate,
                disabled,
            )
        logging.getLogger().handlers = root_handlers
