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
    # Its own key: the tests of this module may run on another worker's service.
    cli(["transit", "keys", "create", "orders"], env=env)  # or it is there already
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
    assert r.stderr.startswith("sealbox: error: no transit key named 'missing'\n")
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


def test_decrypt_and_rewrap_refuse_a_file_of_several_ciphertexts_saying_so(cli, env) -> None:
    cli(["transit", "keys", "create", "many"], env=env)
    one = cli(["transit", "encrypt", "many"], input=b"a", env=env).stdout.strip()
    for stdin in (one + b"\n" + one + b"\n", one + b" " + one, one + b"\r\n\r\n" + one):
        for command in ("decrypt", "rewrap"):
            r = cli(["transit", command, "many"], input=stdin, env=env)
            assert (r.code, r.stdout) == (1, b"")
            assert r.stderr.splitlines() == [
                (
                    "sealbox: error: stdin holds 2 values separated by spaces or lines: the "
                    "command takes one ciphertext"
                ),
                (
                    "sealbox: hint: run it once per ciphertext, or send them all in one request "
                    "with TransitClient.batch (docs/transit.md)"
                ),
            ]
    # One ciphertext with the blank lines and spaces around it that files end up with.
    r = cli(["transit", "decrypt", "many"], input=b"\n  " + one + b"\r\n\n", env=env)
    assert (r.code, r.stdout) == (0, b"a")


def test_a_token_pasted_with_its_bearer_scheme_is_refused_saying_so(cli, env) -> None:
    r = cli(["transit", "keys", "list"], env={**env, "SEALBOX_TOKEN": "Bearer abc.canary-z"})
    assert (r.code, r.stdout) == (1, b"")
    assert r.stderr.startswith(
        "sealbox: error: the access token in $SEALBOX_TOKEN starts with 'Bearer ': give the "
        "token alone"
    )
    assert "canary" not in r.stderr


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


# The tests below need no service: the URL and the options are refused before any request,
# and the client's answers are stood in for.
NO_SERVICE = {"SEALBOX_TOKEN": "x"}


@pytest.mark.parametrize(
    "url",
    [
        "ops:canary-cli-pw-71@example.com:8200",
        "https:/ops:canary-cli-pw-71@example.com",
        "https://ops:canary-cli-pw-71@[::1",
        "https://ops:canary-cli/pw-71@example.com",
    ],
)
def test_a_malformed_url_with_a_password_never_shows_the_password(url: str) -> None:
    # --debug too: its traceback shows the exception, which must not hold it either.
    plain, debug = (
        run_sealbox([*first, "transit", "encrypt", "k", "--url", url], input=b"hi", env=NO_SERVICE)
        for first in ([], ["--debug"])
    )
    for p in (plain, debug):
        assert p.returncode == 1
        assert b"canary-cli" not in p.stdout + p.stderr
    assert plain.stderr.decode().splitlines()[0] == (
        "sealbox: error: the service URL holds a user name or password: the transit client "
        "authenticates with the access token only"
    )


def test_a_url_without_its_scheme_gets_a_did_you_mean_hint(cli) -> None:
    r = cli(["transit", "keys", "list", "--url", "example.com:8200"], env=NO_SERVICE)
    assert r.code == 1
    assert r.stderr.splitlines() == [
        "sealbox: error: the service URL must be https://HOST[:PORT] (got 'example.com:8200')",
        (
            "sealbox: hint: did you mean https://example.com:8200? (sealbox transit talks to "
            "the service over TLS only)"
        ),
    ]


@pytest.mark.parametrize(
    ("url", "error"),
    [
        (
            "https://example.com:99999",
            "the service URL's port must be a number from 1 to 65535 (got '99999')",
        ),
        (
            "https://example.com:http",
            "the service URL's port must be a number from 1 to 65535 (got 'http')",
        ),
        ("https://:8200", "the service URL has no host name (got 'https://:8200')"),
    ],
)
def test_a_bad_port_or_no_host_is_an_invalid_url_not_a_connection_failure(
    cli, url: str, error: str
) -> None:
    r = cli(["transit", "keys", "list", "--url", url], env=NO_SERVICE)
    assert r.code == 1
    assert r.stderr.splitlines() == [
        f"sealbox: error: {error}",
        "sealbox: hint: give --url as https://HOST[:PORT], e.g. https://localhost:8443",
    ]


@pytest.mark.parametrize("timeout", ["1e300", "nan", "inf", "-inf", "3601", "0"])
def test_a_timeout_that_is_not_a_finite_number_of_seconds_in_range_is_a_usage_error(
    cli, timeout: str
) -> None:
    r = cli(["transit", "keys", "list", "--timeout", timeout], env=NO_SERVICE)
    assert r.code == 2
    assert r.stderr.splitlines() == [
        (
            f"sealbox: error: invalid value for '--timeout': {timeout} is not a number of "
            "seconds above 0 and at most 3600"
        ),
        "sealbox: hint: run 'sealbox transit keys list --help' for usage",
    ]


def test_key_names_with_control_characters_are_printed_escaped(cli, monkeypatch) -> None:
    from sealbox.transit.client import TransitClient

    forged = "old\nsealbox: forged line"
    monkeypatch.setattr(TransitClient, "list_keys", lambda _self: ["orders", forged, "tab\there"])
    r = cli(["transit", "keys", "list"], env=NO_SERVICE)
    assert r.code == 0, r.stderr
    assert r.out.splitlines() == ["orders", repr(forged), repr("tab\there")]
    r = cli(["transit", "keys", "list", "--json"], env=NO_SERVICE)
    assert json.loads(r.out) == ["orders", forged, "tab\there"]

    info = {
        "name": forged,
        "type": "aes256-gcm",
        "latest_version": 1,
        "min_decryption_version": 1,
        "min_encryption_version": 0,
        "deletion_allowed": False,
        "exportable": False,
        "version_states": {"1": "active\u202e"},
    }
    monkeypatch.setattr(TransitClient, "read_key", lambda _self, _name: info)
    r = cli(["transit", "keys", "config", "orders"], env=NO_SERVICE)
    assert r.code == 0, r.stderr
    lines = r.out.splitlines()
    assert lines[0] == f"name:                   {forged!r}"
    assert lines[-1] == f"versions:               {'1 active' + chr(0x202E)!r}"
    assert len(lines) == 8


def test_refusals_of_the_service_come_with_a_hint_that_says_what_to_do(cli, env) -> None:
    assert cli(["transit", "keys", "create", "hinted"], env=env).code == 0
    assert cli(["transit", "keys", "create", "signer", "--type", "ed25519"], env=env).code == 0
    sealed = cli(["transit", "encrypt", "hinted", "-A", "row:1"], input=b"x", env=env).stdout
    cases = [
        (
            ["transit", "decrypt", "Hinted"],
            sealed,
            "no transit key named 'Hinted'",
            (
                "see the names with 'sealbox transit keys list' (case counts), or create it "
                "with 'sealbox transit keys create NAME'"
            ),
        ),
        (
            ["transit", "keys", "create", "hinted"],
            b"",
            "a transit key named 'hinted' already exists",
            "choose another name, or use this key (sealbox transit keys config NAME shows it)",
        ),
        (
            ["transit", "decrypt", "hinted", "-A", "row:2"],
            sealed,
            "decryption failed: the ciphertext was altered, or the key or associated data differs",
            "give the key that encrypted it and the same -A text as encrypt was given",
        ),
        (
            ["transit", "decrypt", "hinted"],
            sealed.strip() + b"=",
            "the ciphertext is not valid base64 after its prefix",
            "give one ciphertext as 'sealbox transit encrypt' printed it",
        ),
        (
            ["transit", "encrypt", "hinted", "--key-version", "7"],
            b"x",
            "key 'hinted' has no version 7 (the latest is 1)",
            "see the key's versions with 'sealbox transit keys config NAME'",
        ),
        (
            ["transit", "encrypt", "signer"],
            b"x",
            (
                "ed25519 keys cannot encrypt: use a key of type aes256-gcm, "
                "chacha20-poly1305, aes256-siv"
            ),
            "use a key of one of those types (sealbox transit keys create NAME --type TYPE)",
        ),
    ]
    for args, stdin, error, hint in cases:
        r = cli(args, input=stdin, env=env)
        assert r.code == 1, args
        assert r.stderr.splitlines() == [f"sealbox: error: {error}", f"sealbox: hint: {hint}"]
