"""``sealbox transit``: transcripts against a real service over HTTPS."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import run_sealbox
from tests.service._transit import ALL_SCOPES, add_user
from tests.service.conftest import free_port, login, make_settings, run_service


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("transit-cli") / "data")
    with run_service(settings) as service:
        yield service


def token(service, *scopes: str) -> str:
    name = f"cli{os.urandom(4).hex()}"
    add_user(service.settings, name, list(scopes))
    with service.client() as c:
        return login(c, name).json()["access_token"]


@pytest.fixture(scope="module")
def env(running) -> dict[str, str]:
    return {
        "SEALBOX_TOKEN": token(running, *ALL_SCOPES),
        "SEALBOX_URL": running.url,
        "SEALBOX_CA": str(running.ca),
    }


def test_keys_encrypt_decrypt_rotate_rewrap(cli, env) -> None:
    r = cli(["transit", "keys", "create", "orders"], env=env)
    assert r.code == 0, r.stderr
    assert r.out.splitlines()[:3] == [
        "name:                   orders",
        "type:                   aes256-gcm",
        "latest_version:         1",
    ]
    r = cli(["transit", "keys", "create", "sig", "--type", "ed25519", "--json"], env=env)
    assert json.loads(r.out)["type"] == "ed25519"
    assert cli(["transit", "keys", "list"], env=env).out.splitlines()[-2:] == ["orders", "sig"]

    data = b"\x00binary\nline two\xff"
    r = cli(["transit", "encrypt", "orders"], input=data, env=env)
    assert r.code == 0 and r.out.startswith("sealbox:v1:") and r.out.endswith("\n")
    v1 = r.out
    r = cli(["transit", "decrypt", "orders"], input=v1.encode(), env=env)
    assert r.code == 0 and r.stdout == data

    r = cli(["transit", "keys", "rotate", "orders"], env=env)
    assert "latest_version:         2" in r.out
    r = cli(["transit", "rewrap", "orders"], input=v1.encode(), env=env)
    assert r.code == 0 and r.out.startswith("sealbox:v2:")
    assert cli(["transit", "decrypt", "orders"], input=r.stdout, env=env).stdout == data

    r = cli(["transit", "keys", "config", "orders", "--min-decryption-version", "2"], env=env)
    assert "min_decryption_version: 2" in r.out
    assert r.out.splitlines()[-1] == "versions:               1 disabled, 2 active"
    r = cli(["transit", "decrypt", "orders"], input=v1.encode(), env=env)
    assert r.code == 1 and r.stdout == b""
    assert r.stderr == (
        "sealbox: error: the ciphertext was made with version 1 of key 'orders', below its "
        "min_decryption_version 2: it is no longer accepted\n"
        "sealbox: hint: the key's min_decryption_version refuses it; rewrap data before "
        "raising it\n"
    )
    r = cli(["transit", "keys", "config", "orders", "--json"], env=env)
    assert json.loads(r.out)["min_decryption_version"] == 2
    r = cli(["transit", "keys", "config", "orders", "--min-decryption-version", "5"], env=env)
    assert r.code == 1 and "between 1 and the latest version (2)" in r.stderr


def test_associated_data_and_key_versions(cli, env) -> None:
    cli(["transit", "keys", "create", "ad"], env=env)
    r = cli(["transit", "keys", "rotate", "ad"], env=env)
    assert r.out.splitlines()[-1] == "versions:               1-2 active"
    r = cli(
        ["transit", "encrypt", "ad", "-A", "user:42", "--key-version", "1"], input=b"x", env=env
    )
    assert r.out.startswith("sealbox:v1:")
    assert (
        cli(["transit", "decrypt", "ad", "-A", "user:42"], input=r.stdout, env=env).stdout == b"x"
    )
    wrong = cli(["transit", "decrypt", "ad", "-A", "user:43"], input=r.stdout, env=env)
    assert wrong.code == 1 and wrong.stderr.startswith("sealbox: error: decryption failed")
    r = cli(["transit", "rewrap", "ad", "-A", "user:42"], input=r.stdout, env=env)
    assert r.out.startswith("sealbox:v2:")


def test_errors_are_one_line_each(cli, env, running, tmp_path: Path) -> None:
    no_token = {k: v for k, v in env.items() if k != "SEALBOX_TOKEN"}
    r = cli(["transit", "encrypt", "orders"], input=b"x", env=no_token)
    assert r.code == 1
    assert r.stderr.startswith("sealbox: error: no access token: $SEALBOX_TOKEN is not set\n")
    r = cli(["transit", "keys", "list", "--url", "http://localhost:1"], env=env)
    assert r.code == 1 and "must be https://HOST[:PORT] (got 'http://localhost:1')" in r.stderr
    r = cli(["transit", "keys", "list", "--url", f"https://localhost:{free_port()}"], env=env)
    assert r.code == 1 and r.stderr.startswith(
        "sealbox: error: cannot connect to https://localhost:"
    )
    no_ca = {k: v for k, v in env.items() if k != "SEALBOX_CA"}
    r = cli(["transit", "keys", "list"], env=no_ca)
    assert r.code == 1 and "cannot verify the certificate" in r.stderr
    assert "--ca" in r.stderr
    r = cli(["transit", "decrypt", "missing"], input=b"sealbox:v1:AAAA", env=env)
    assert r.stderr == "sealbox: error: no transit key named 'missing'\n"
    r = cli(["transit", "decrypt", "orders"], input=b"", env=env)
    assert r.code == 1 and "no ciphertext on stdin" in r.stderr
    r = cli(["transit", "decrypt", "orders"], input=b"garbage\n", env=env)
    assert r.stderr.startswith(
        "sealbox: error: the ciphertext is not in the form sealbox:v<N>:<base64>"
    )
    weak = {**env, "SEALBOX_TOKEN": token(running, "transit:encrypt:other")}
    r = cli(["transit", "encrypt", "orders"], input=b"x", env=weak)
    assert r.code == 1
    assert r.stderr.splitlines() == [
        "sealbox: error: this needs the scope transit:encrypt:orders",
        "sealbox: hint: ask an administrator for the scope (sealbox users grant NAME SCOPE)",
    ]
    r = cli(["transit", "keys", "list"], env={**env, "SEALBOX_TOKEN": "not-a-token"})
    assert r.code == 1 and "expired or revoked" in r.stderr
    r = cli(["transit", "keys", "create", "x", "--type", "aes128"], env=env)
    assert r.code == 2
    big = b"x" * (3 * 1024 * 1024)
    r = cli(["transit", "encrypt", "orders"], input=big, env=env)
    assert r.code == 1 and "larger than" in r.stderr
    # The token never shows, whatever fails, even in a --debug traceback.
    p = run_sealbox(["--debug", "transit", "decrypt", "missing"], input=b"sealbox:v1:A", env=env)
    assert p.returncode == 1 and b"Traceback" in p.stderr
    assert env["SEALBOX_TOKEN"].encode() not in p.stderr + p.stdout


def test_real_process_round_trip(running, env) -> None:
    run_sealbox(["transit", "keys", "create", "proc"], env=env)
    r = run_sealbox(["transit", "encrypt", "proc"], input=b"through a pipe", env=env)
    assert r.returncode == 0, r.stderr
    r = run_sealbox(["transit", "decrypt", "proc"], input=r.stdout, env=env)
    assert r.returncode == 0 and r.stdout == b"through a pipe"
    assert env["SEALBOX_TOKEN"].encode() not in r.stderr
    r = run_sealbox(["transit", "--help"])
    for command in ("keys", "encrypt", "decrypt", "rewrap"):
        assert command.encode() in r.stdout


def test_a_url_password_a_bad_token_and_a_silent_service_are_one_clear_line_each(cli, env) -> None:
    import socket

    r = cli(["transit", "keys", "list", "--url", "https://ops:canary-cli-pw@localhost:1"], env=env)
    assert r.code == 1 and "canary-cli-pw" not in r.stderr
    assert r.stderr.startswith("sealbox: error: the service URL holds a user name or password")
    r = cli(["transit", "keys", "list"], env={**env, "SEALBOX_TOKEN": "tökén"})
    assert r.code == 1
    assert r.stderr.startswith("sealbox: error: the access token in $SEALBOX_TOKEN is not a")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"https://localhost:{silent.getsockname()[1]}"
        r = cli(["transit", "keys", "list", "--url", url, "--timeout", "0.5"], env=env)
    assert r.code == 1
    assert r.stderr.splitlines()[0] == f"sealbox: error: {url} did not answer within 0.5 s"
    assert "--timeout" in r.stderr.splitlines()[1]
