"""``sealbox jwt keyset … --data-dir``: the service's signing keyset, from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_sealbox

ENV = {"SEALBOX_PASSWORD_PROFILE": "test"}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("service") / "data"
    r = run_sealbox(["serve", "--data-dir", folder, "--port", "0", "--check"], env=ENV)
    assert r.returncode == 0, r.stderr.decode()
    return folder


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["list"], "missing FILE, or --data-dir DIR for the service's keyset"),
        (["list", "keys.sealed", "--data-dir", "{data}"], "give FILE, or --data-dir DIR"),
        (
            ["rotate", "--data-dir", "{data}", "--passphrase-file", "pw"],
            "--passphrase-file is for a keyset FILE",
        ),
        (["destroy", "--data-dir", "{data}"], "missing argument 'KEY_ID'"),
    ],
)
def test_the_service_keyset_or_a_file_exactly_one_is_a_usage_rule(
    data: Path, args: list[str], message: str
) -> None:
    r = run_sealbox(["jwt", "keyset", *(a.format(data=data) for a in args)], env=ENV)
    assert r.returncode == 2
    assert r.stderr.decode().startswith(f"sealbox: error: {message}")


def test_a_folder_without_a_service_is_one_error_with_a_hint(tmp_path: Path) -> None:
    r = run_sealbox(["jwt", "keyset", "rotate", "--data-dir", tmp_path / "none"], env=ENV)
    assert r.returncode == 1
    err = r.stderr.decode().splitlines()
    assert err[0] == f"sealbox: error: no master key at {tmp_path / 'none' / 'master.key'}"
    assert err[1].startswith("sealbox: hint: ")
    assert not (tmp_path / "none").exists()  # nothing made


def test_list_rotate_disable_enable_destroy_on_the_service_keyset(data: Path) -> None:
    def keys() -> list[dict[str, object]]:
        r = run_sealbox(["jwt", "keyset", "list", "--data-dir", data, "--json"], env=ENV)
        assert r.returncode == 0, r.stderr.decode()
        return list(json.loads(r.stdout))

    (first,) = keys()
    r = run_sealbox(["jwt", "keyset", "rotate", "--data-dir", data], env=ENV)
    assert r.returncode == 0, r.stderr.decode()
    now = next(k for k in keys() if k["primary"])
    assert r.stdout.decode() == (
        f"rotated the service keyset of {data}: new signing key {now['id']} (EdDSA); "
        "1 older key still verifies\n"
    )
    old = str(first["id"])
    for verb, state in (("disable", "disabled"), ("enable", "decrypt-only")):
        r = run_sealbox(["jwt", "keyset", verb, "--data-dir", data, "--", old], env=ENV)
        assert r.returncode == 0, r.stderr.decode()
        assert {k["id"]: k["state"] for k in keys()}[old] == state
    # Destroying asks first; without a terminal, --yes.
    r = run_sealbox(["jwt", "keyset", "destroy", "--data-dir", data, "--", old], env=ENV)
    assert r.returncode == 1
    assert b"pass --yes" in r.stderr
    r = run_sealbox(["jwt", "keyset", "destroy", "--data-dir", data, "--yes", "--", old], env=ENV)
    assert r.returncode == 0, r.stderr.decode()
    assert {k["id"]: k["state"] for k in keys()}[old] == "destroyed"
    # Destroyed twice: said so, and neither saved nor recorded again.
    saved = (data / "jwt-keyset.sealed").read_bytes()
    r = run_sealbox(["jwt", "keyset", "destroy", "--data-dir", data, "--yes", "--", old], env=ENV)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode() == f"key {old} of the service keyset of {data} was destroyed already\n"
    assert (data / "jwt-keyset.sealed").read_bytes() == saved
    events = [json.loads(line)["event"] for line in (data / "audit.log").read_text().splitlines()]
    assert events[-4:] == [
        "admin.keyset_rotate",
        "admin.keyset_disable",
        "admin.keyset_enable",
        "admin.keyset_destroy",
    ]


def test_a_change_whose_audit_log_cannot_be_opened_is_not_made(data: Path, tmp_path: Path) -> None:
    before = (data / "jwt-keyset.sealed").read_bytes()
    blocked = tmp_path / "file"
    blocked.write_text("")
    env = {**ENV, "SEALBOX_AUDIT_LOG": str(blocked / "audit.log")}  # a file as its folder
    r = run_sealbox(["jwt", "keyset", "rotate", "--data-dir", data], env=env)
    assert r.returncode == 1
    assert r.stderr.decode().startswith("sealbox: error: cannot open the audit log")
    assert (data / "jwt-keyset.sealed").read_bytes() == before
