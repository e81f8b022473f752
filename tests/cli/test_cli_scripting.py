"""The command line as a script reads it (docs/cli.md): the real ``sealbox`` program, its
``--json`` documents parsed from stdout, its errors on stderr and its exit statuses."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.conftest import run_sealbox
from tests.service._transit import ALL_SCOPES, add_user
from tests.service.conftest import login, make_settings, run_service

PASS = "scripting passphrase"
ENV = {"SEALBOX_PASSPHRASE": PASS, "SEALBOX_PASSWORD_PROFILE": "test"}
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def sealbox(*args: object, input: bytes = b"", env: dict[str, str] | None = None):
    return run_sealbox([str(a) for a in args], input=input, env={**ENV, **(env or {})})


def document(*args: object, input: bytes = b"", env: dict[str, str] | None = None):
    """The one JSON document a successful ``--json`` command prints; stderr holds no error."""
    r = sealbox(*args, input=input, env=env)
    assert r.returncode == 0, r.stderr
    assert b"sealbox: error" not in r.stderr
    return json.loads(r.stdout)


def refused(*args: object, code: int = 1, input: bytes = b""):
    """A failure: nothing on stdout, ``sealbox: error: …`` first on stderr, exit ``code``."""
    r = sealbox(*args, input=input)
    assert (r.returncode, r.stdout) == (code, b""), r.stderr
    assert r.stderr.decode().startswith("sealbox: error: ")
    return r.stderr.decode()


def test_key_lists_and_new_keys_are_json_with_rfc3339_times_and_real_booleans(tmp_path: Path):
    ring, keyset = tmp_path / "r.keyring", tmp_path / "k.jwt"
    made = document("keyring", "create", ring, "--json")
    rotated = document("keyring", "rotate", ring, "--json")
    listed = document("keyring", "list", ring, "--json")
    assert [k["id"] for k in listed] == [made["id"], rotated["id"]]
    made = document("jwt", "keyset", "create", keyset, "--json")
    added = document("jwt", "keyset", "add", keyset, "--json")
    listed += document("jwt", "keyset", "list", keyset, "--json")
    assert {made["id"], added["id"]} <= {k["id"] for k in listed}
    for key in listed:
        assert {"id", "type", "state", "primary", "created"} <= set(key)
        assert isinstance(key["primary"], bool)
        assert RFC3339_UTC.match(key["created"]), key


def test_json_failures_print_nothing_on_stdout_and_exit_1(tmp_path: Path):
    missing = tmp_path / "missing"
    for command in (
        ["keyring", "list", missing],
        ["jwt", "keyset", "list", missing],
        ["jwt", "jwks", missing],
        ["secrets", "list", missing],
        ["ca", "inspect", missing],
        ["inspect", missing],
        ["key", "fingerprint", missing],
        ["legacy", "detect", missing],
        ["users", "list", "--data-dir", missing],
        ["clients", "list", "--data-dir", missing],
    ):
        refused(*command, "--json")


def test_empty_lists_print_an_empty_json_list(tmp_path: Path):
    identity = tmp_path / "id.txt"
    assert sealbox("keygen", "-o", identity).returncode == 0
    recipient = sealbox("keygen", "-y", identity).stdout.decode().strip()
    secrets = tmp_path / "s.env"
    assert sealbox("secrets", "init", secrets, "-r", recipient).returncode == 0
    assert document("secrets", "list", secrets, "--json") == []
    assert document("secrets", "list", secrets, "--json", "-i", identity) == []
    data = tmp_path / "data"
    assert sealbox("serve", "--check", "--data-dir", data).returncode == 0
    assert document("users", "list", "--data-dir", data, "--json") == []
    assert document("clients", "list", "--data-dir", data, "--json") == []


def test_a_destructive_json_command_without_yes_asks_nothing_on_stdout(tmp_path: Path):
    ring = tmp_path / "r.keyring"
    document("keyring", "create", ring, "--json")
    error = refused("keyring", "create", ring, "--force", "--json")
    assert "pass --yes to confirm" in error
    replaced = sealbox("keyring", "create", ring, "--force", "--yes", "--json")
    assert replaced.returncode == 0, replaced.stderr
    assert json.loads(replaced.stdout)["primary"] is True


@pytest.mark.parametrize(
    "command",
    [
        ["keyring", "list", "--json"],
        ["keyring", "list", "FILE", "--json", "--no-such-option"],
        ["keyring", "create", "FILE", "--type", "no-such-type", "--json"],
        ["users", "list", "--json", "--data-dir"],
        ["completion", "no-such-shell"],
    ],
)
def test_usage_errors_exit_2_with_one_error_line_and_the_help_hint(command: list[str]):
    error = refused(*command, code=2)
    assert error.splitlines()[-1].startswith("sealbox: hint: ")
    assert "--help' for usage" in error.splitlines()[-1]


@pytest.mark.parametrize("timeout", ["nan", "inf", "1e300", "3601", "0"])
def test_ca_pin_timeout_that_is_not_a_finite_number_of_seconds_in_range_is_a_usage_error(
    timeout: str,
):
    error = refused("ca", "pin", "127.0.0.1:9", "--timeout", timeout, "--json", code=2)
    assert error.splitlines() == [
        (
            f"sealbox: error: invalid value for '--timeout': {timeout} is not a number of "
            "seconds at least 0.1 and at most 3600"
        ),
        "sealbox: hint: run 'sealbox ca pin --help' for usage",
    ]


@pytest.mark.parametrize("timeout", ["nan", "inf", "1"])
def test_serve_worker_healthcheck_timeout_out_of_range_is_a_usage_error_before_provisioning(
    tmp_path: Path, timeout: str
):
    data = tmp_path / "data"
    error = refused(
        "serve", "--check", "--data-dir", data, "--worker-healthcheck-timeout", timeout, code=2
    )
    assert "invalid value for '--worker-healthcheck-timeout'" in error
    assert not data.exists()


@pytest.fixture(scope="module")
def transit_env(tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("scripting") / "data")
    with run_service(settings) as service:
        name = f"cli{os.urandom(4).hex()}"
        add_user(service.settings, name, list(ALL_SCOPES))
        with service.client() as client:
            access = login(client, name).json()["access_token"]
        yield {"SEALBOX_TOKEN": access, "SEALBOX_URL": service.url, "SEALBOX_CA": str(service.ca)}


def test_transit_keys_list_json_is_an_indented_list_also_when_empty(transit_env):
    empty = sealbox("transit", "keys", "list", "--json", env=transit_env)
    assert (empty.returncode, empty.stdout) == (0, b"[]\n"), empty.stderr
    made = document("transit", "keys", "create", "orders", "--json", env=transit_env)
    assert made["name"] == "orders"
    assert isinstance(made["exportable"], bool)
    listed = sealbox("transit", "keys", "list", "--json", env=transit_env)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.decode() == json.dumps(["orders"], indent=2) + "\n"
