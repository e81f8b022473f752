"""`sealbox users create` and `sealbox serve` checks."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest

from sealbox.tls.client import secure_client
from tests.conftest import run_sealbox
from tests.service.conftest import (
    PASSWORD,
    bearer,
    login,
    make_settings,
    run_service,
    serve_process,
)


def test_users_create_with_scopes(cli, tmp_path: Path) -> None:
    data = tmp_path / "data"
    r = cli(
        ["users", "create", "admin", "--scope", "transit:admin", "--data-dir", data],
        input=PASSWORD.encode() + b"\n",
        env={"SEALBOX_PASSWORD_PROFILE": "test"},
    )
    assert r.code == 0, r.stderr
    assert r.out == "created user admin with scopes transit:admin users:me\n"
    assert PASSWORD not in r.out + r.stderr
    # Before any `serve`: the database it makes is private from the start.
    assert stat.S_IMODE((data / "sealbox.db").stat().st_mode) == 0o600
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    r = cli(
        ["users", "create", "admin", "--data-dir", data],
        input=PASSWORD.encode(),
        env={"SEALBOX_PASSWORD_PROFILE": "test"},
    )
    assert r.code == 1 and "is taken" in r.stderr
    r = cli(
        ["users", "create", "weak", "--data-dir", data],
        input=b"short",
        env={"SEALBOX_PASSWORD_PROFILE": "test"},
    )
    assert r.code == 1 and "8 to 1024 characters" in r.stderr
    with run_service(make_settings(data)) as svc, svc.client() as c:
        token = login(c, "admin").json()
        assert token["scope"] == "transit:admin users:me"
        me = c.get("/users/me", headers=bearer(token["access_token"])).json()
        assert me["scopes"] == ["transit:admin", "users:me"]


def test_data_folder_modes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with run_service(make_settings(data)):
        pass
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in (
        "master.key",
        "jwt-keyset.sealed",
        "sealbox.db",
        "audit.log",
        "tls/ca.key",
        "tls/server.key",
    ):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name
    text = (data / "jwt-keyset.sealed").read_text()
    assert "PRIVATE" not in text and '"d"' not in text


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="needs root to chown")
def test_serve_refuses_a_data_folder_of_another_user(cli, tmp_path: Path) -> None:
    # Root (sudo, a container) serving the service user's folder made files there that
    # their owner could no longer read or replace, and served another user's keys.
    data = tmp_path / "data"
    assert cli(["serve", "--check", "--data-dir", data]).code == 0
    for path in (data, *data.rglob("*")):
        os.chown(path, 65534, 65534)
    r = cli(["serve", "--check", "--data-dir", data])
    assert r.code == 1, r.stderr
    assert r.stderr.startswith(f"sealbox: error: {data} belongs to another user (uid 65534)")
    assert f"chown -R 0 {data}" in r.stderr
    os.chown(data, 0, 0)  # the folder is this user's again, a key in it is not
    r = cli(["serve", "--check", "--data-dir", data])
    assert r.code == 1 and "belongs to another user" in r.stderr.splitlines()[0], r.stderr
    assert not [p for p in data.rglob("*") if p.stat().st_uid == 0 and p.name != "data"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX owners")
def test_a_data_folder_of_another_user_is_refused_with_its_code(
    monkeypatch, tmp_path: Path
) -> None:
    from sealbox.exceptions import ConfigError
    from sealbox.service import preflight

    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "master.key").write_bytes(b"k")
    (data / "master.key").chmod(0o600)
    preflight.check_modes(make_settings(data))
    other = os.geteuid() + 1
    monkeypatch.setattr(preflight.os, "geteuid", lambda: other)
    with pytest.raises(ConfigError) as caught:
        preflight.check_modes(make_settings(data))
    assert caught.value.code == "data_dir_owner"
    assert caught.value.facts["path"] == str(data)


def test_serve_refuses_bad_combinations(cli, tmp_path: Path) -> None:
    r = cli(["serve", "--data-dir", tmp_path / "d", "--cert", tmp_path / "x.crt"])
    assert r.code == 1 and "--cert and --key together" in r.stderr
    r = cli(["serve", "--port", "70000"])
    assert r.code == 2


def test_serve_takes_a_certificate_file_holding_its_key_too(tmp_path: Path) -> None:
    # One PEM with the certificate and its key, as uvicorn's --ssl-certfile takes it.
    data = tmp_path / "data"
    assert run_sealbox(["serve", "--check", "--data-dir", data]).returncode == 0
    both = tmp_path / "both.pem"
    both.write_bytes(
        (data / "tls" / "server.crt").read_bytes() + (data / "tls" / "server.key").read_bytes()
    )
    both.chmod(0o600)
    with serve_process(tmp_path, "--cert", str(both), data_dir=data) as srv, srv.client() as c:
        assert c.get("/health").json() == {"status": "ok"}
    # It holds a private key: open to other users, it is refused as a key file is.
    both.chmod(0o644)
    r = run_sealbox(["serve", "--check", "--data-dir", data, "--cert", both])
    assert r.returncode == 1
    assert f"{both} can be read or written by other users (mode 644)" in r.stderr.decode()
    # A certificate alone still needs its key.
    r = run_sealbox(["serve", "--check", "--data-dir", data, "--cert", data / "tls" / "server.crt"])
    assert r.returncode == 1 and "given without its key" in r.stderr.decode()


def test_serve_prints_url_and_ca(tmp_path: Path) -> None:
    with serve_process(tmp_path) as srv:
        pass
    assert f"sealbox service on https://localhost:{srv.port}" in srv.stderr
    assert "clients trust .sealbox/tls/ca.crt" in srv.stderr
    assert "Traceback" not in srv.stderr


def test_the_server_start_line_names_https_the_only_scheme_it_answers(tmp_path: Path) -> None:
    with serve_process(tmp_path, "--log-level", "info") as srv:
        pass
    assert f"Uvicorn running on https://127.0.0.1:{srv.port}" in srv.stderr
    assert "http://" not in srv.stderr


def test_serve_refuses_to_start_without_its_redis_and_says_so(tmp_path: Path) -> None:
    url = "redis://:canary-redis-pw-9d2@127.0.0.1:1/0"  # nothing listens on port 1
    r = run_sealbox(
        ["serve", "--port", "1", "--data-dir", tmp_path / "data"],
        env={"SEALBOX_REDIS_URL": url},
        timeout=60,
    )
    stderr = r.stderr.decode()
    assert r.returncode == 1
    assert stderr.endswith(
        "sealbox: error: Redis did not answer while starting the service (ConnectionError)\n"
        "sealbox: hint: check SEALBOX_REDIS_URL, and that the Redis server runs and answers\n"
    )
    assert "Traceback" not in stderr and "canary-redis-pw-9d2" not in stderr


def test_serve_with_a_unix_socket_redis_that_is_not_there_names_the_socket(
    tmp_path: Path,
) -> None:
    # It said only "(ConnectionError)", as for a TCP address nothing listens on: a wrong
    # path and a Redis that is not running looked the same.
    url = "unix://:canary-redis-pw-5e1@/nonexistent/redis.sock?db=0"
    r = run_sealbox(
        ["serve", "--port", "1", "--data-dir", tmp_path / "data"],
        env={"SEALBOX_REDIS_URL": url},
        timeout=60,
    )
    stderr = r.stderr.decode()
    assert r.returncode == 1
    assert stderr.endswith(
        "sealbox: error: Redis did not answer while starting the service "
        "(ConnectionError: the socket /nonexistent/redis.sock does not exist)\n"
        "sealbox: hint: check SEALBOX_REDIS_URL, and that the Redis server runs and answers\n"
    )
    assert "Traceback" not in stderr and "canary-redis-pw-5e1" not in stderr


def test_serve_refuses_to_start_with_a_certificate_or_key_it_cannot_serve_with(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    assert run_sealbox(["serve", "--check", "--data-dir", data]).returncode == 0
    assert run_sealbox(["ca", "init", tmp_path / "other"]).returncode == 0
    (tmp_path / "other" / "ca.key").chmod(0o600)
    cert = data / "tls" / "server.crt"
    for given, said in (
        ((cert, tmp_path / "other" / "ca.key"), "does not match the certificate"),
        ((tmp_path / "no.crt", tmp_path / "no.key"), "no.crt does not exist"),
    ):
        r = run_sealbox(
            ["serve", "--port", "1", "--data-dir", data, "--cert", given[0], "--key", given[1]],
            timeout=60,
        )
        stderr = r.stderr.decode()
        # Refused before it says it runs: before, it ran and every handshake hung.
        assert r.returncode == 1, stderr
        assert stderr.startswith("sealbox: error: ") and said in stderr.splitlines()[0]
        assert "running" not in stderr and "Traceback" not in stderr


def test_serve_with_an_encrypted_key_hints_how_to_write_it_unencrypted(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run_sealbox(["serve", "--check", "--data-dir", data]).returncode == 0
    key = tmp_path / "encrypted.key"
    subprocess.run(
        [
            *("openssl", "pkey", "-in", data / "tls" / "server.key", "-aes256"),
            *("-passout", "pass:canary-key-pass", "-out", key),
        ],
        check=True,
    )
    key.chmod(0o600)
    r = run_sealbox(
        [
            *("serve", "--port", "1", "--data-dir", data),
            *("--cert", data / "tls" / "server.crt", "--key", key),
        ],
        timeout=60,
    )
    stderr = r.stderr.decode()
    assert r.returncode == 1, stderr
    assert "is encrypted and no passphrase was given" in stderr
    assert "sealbox: hint: the command line reads TLS key files unencrypted: " in stderr
    assert "openssl pkey -in KEY -out PLAIN.key" in stderr


def test_serve_with_cert_and_key_swapped_says_the_key_file_holds_a_certificate(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    assert run_sealbox(["serve", "--check", "--data-dir", data]).returncode == 0
    cert, key = data / "tls" / "server.crt", data / "tls" / "server.key"
    r = run_sealbox(
        ["serve", "--port", "1", "--data-dir", data, "--cert", key, "--key", cert], timeout=60
    )
    stderr = r.stderr.decode()
    assert r.returncode == 1, stderr
    assert stderr == (
        f"sealbox: error: the key file {cert} holds a certificate, not a private key\n"
        "sealbox: hint: pass the certificate with --cert and its private key with --key "
        "(were they swapped?)\n"
    )


def test_serve_on_an_address_in_use_is_one_error_before_it_says_it_runs(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = run_sealbox(["serve", "--port", str(port), "--data-dir", tmp_path / "data"], timeout=60)
    stderr = r.stderr.decode()
    # uvicorn's own failure was an "ERROR:" line and exit 3, after "sealbox service on…".
    assert r.returncode == 1, stderr
    assert stderr.endswith(
        f"sealbox: error: cannot listen on 127.0.0.1:{port}: address already in use\n"
        "sealbox: hint: choose another port or host, or stop what listens there\n"
    )
    assert "sealbox service on" not in stderr


def test_invalid_settings_are_a_clear_error(cli, tmp_path: Path) -> None:
    r = cli(["serve", "--data-dir", tmp_path / "d"], env={"SEALBOX_PORT": "abc"})
    assert r.code == 1
    assert r.stderr.startswith("sealbox: error: invalid settings: SEALBOX_PORT: ")
    assert "Traceback" not in r.stderr and "unexpected" not in r.stderr
    secret_url = "postgresql+asyncpg://u:canary-db-pass-77@db/x"
    r = cli(
        ["users", "create", "a", "--data-dir", tmp_path / "d"],
        env={"SEALBOX_WORKERS": "0", "SEALBOX_DATABASE_URL": secret_url},
    )
    assert r.code == 1 and "SEALBOX_WORKERS" in r.stderr
    assert "canary-db-pass-77" not in r.stderr
    assert not (tmp_path / "d").exists()


def test_a_malformed_redis_url_is_an_invalid_setting_before_the_data_folder_is_made(
    cli, tmp_path: Path
) -> None:
    # The Redis client's ValueError reached the user as "unexpected internal error", after
    # the data folder and its keys had been made.
    for url in ("notaurl-canary-redis-3f1", "redis://:canary-redis-3f1@h:port/0", "http://h/"):
        r = cli(["serve", "--check", "--data-dir", tmp_path / "d"], env={"SEALBOX_REDIS_URL": url})
        assert r.code == 1, r.stderr
        assert r.stderr.startswith("sealbox: error: invalid settings: SEALBOX_REDIS_URL: ")
        assert "unexpected" not in r.stderr and "canary-redis-3f1" not in r.stderr
        assert not (tmp_path / "d").exists()


def test_the_port_chosen_for_port_0_is_kept_from_others_until_the_server_binds_it(
    tmp_path: Path,
) -> None:
    import errno
    import socket

    import pytest

    from sealbox.service.preflight import check_listen
    from sealbox.service.settings import ServiceSettings

    port = check_listen(ServiceSettings(_env_file=None, data_dir=tmp_path, port=0))
    # A program binding without SO_REUSEADDR (as one given any free port binds) is refused…
    with socket.socket() as other, pytest.raises(OSError) as refused:
        other.bind(("127.0.0.1", port))
    assert refused.value.errno == errno.EADDRINUSE
    # …while the server, which sets it (uvicorn does), binds and listens at once.
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen()
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            server.accept()[0].close()


def test_serve_on_port_0_names_and_serves_the_port_the_system_chose(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    err = tmp_path / "serve.err"
    with err.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sealbox", "serve", "--data-dir", str(data), "--port", "0"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 60
        while (
            found := re.search(r"sealbox service on https://localhost:(\d+) ", err.read_text())
        ) is None:
            assert proc.poll() is None and time.monotonic() < deadline, err.read_text()
            time.sleep(0.1)
        port = int(found[1])
        assert port != 0
        while True:
            try:
                with secure_client(ca=data / "tls" / "ca.crt", timeout=5) as c:
                    assert c.get(f"https://localhost:{port}/health").status_code == 200
                break
            except (httpx2.HTTPError, OSError):
                assert time.monotonic() < deadline, err.read_text()
                time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(30)
    # Reached only when the test passed: then it stops as docs/service.md (Stopping) says.
    assert proc.returncode == 0, err.read_text()
    assert "Traceback" not in err.read_text(), err.read_text()
