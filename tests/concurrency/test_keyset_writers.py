"""JWT signing keysets changed by racing processes (rotate, add, set-primary) keep every key."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sealbox.jwt import SigningKeySet
from sealbox.service import DataDir
from tests._race import race
from tests.conftest import run_sealbox

PASS = {"SEALBOX_PASSPHRASE": "racing keyset passphrase"}
WRITERS = 8


def test_eight_concurrent_keyset_rotations_keep_every_key(tmp_path: Path) -> None:
    file = tmp_path / "signing.keyset"
    assert run_sealbox(["jwt", "keyset", "create", file], env=PASS).returncode == 0
    results = race([["jwt", "keyset", "rotate", file]] * WRITERS, env=PASS)
    assert [r.code for r in results] == [0] * WRITERS, results
    keys = SigningKeySet.load(file, PASS["SEALBOX_PASSPHRASE"])
    assert len(keys) == 1 + WRITERS
    assert [k.state for k in keys].count("active") == 1
    assert [k.state for k in keys].count("decrypt-only") == WRITERS
    # Each writer names the key it added: as the new signing key, or, when another writer
    # saved a newer one meanwhile, as an added key that verifies.
    announced = {
        re.search(r"(?:new signing key|added key) (\S+)", line)[1]  # type: ignore[index]
        for r in results
        for line in r.out.splitlines()
    }
    assert len(announced) == WRITERS
    assert announced <= {k.kid for k in keys}


def test_a_retirement_and_a_rotation_at_once_keep_both(tmp_path: Path) -> None:
    file = tmp_path / "signing.keyset"
    assert run_sealbox(["jwt", "keyset", "create", file], env=PASS).returncode == 0
    assert run_sealbox(["jwt", "keyset", "rotate", file], env=PASS).returncode == 0
    old = next(k.kid for k in SigningKeySet.load(file, PASS["SEALBOX_PASSPHRASE"]) if not k.primary)
    results = race(
        [["jwt", "keyset", "retire", file, "--yes", "--", old], ["jwt", "keyset", "rotate", file]],
        env=PASS,
    )
    assert [r.code for r in results] == [0, 0], results
    keys = {k.kid: k for k in SigningKeySet.load(file, PASS["SEALBOX_PASSPHRASE"])}
    assert len(keys) == 3
    assert keys[old].state == "destroyed"


def test_eight_concurrent_adds_keep_every_key_and_the_signing_key(tmp_path: Path) -> None:
    file = tmp_path / "signing.keyset"
    assert run_sealbox(["jwt", "keyset", "create", file], env=PASS).returncode == 0
    signer = SigningKeySet.load(file, PASS["SEALBOX_PASSPHRASE"]).primary.kid
    results = race([["jwt", "keyset", "add", file, "--json"]] * WRITERS, env=PASS)
    assert [r.code for r in results] == [0] * WRITERS, results
    added = {json.loads(r.out)["id"] for r in results}
    assert len(added) == WRITERS
    keys = {k.kid: k for k in SigningKeySet.load(file, PASS["SEALBOX_PASSPHRASE"])}
    assert set(keys) == {signer, *added}
    assert keys[signer].primary
    assert {keys[kid].state for kid in added} == {"decrypt-only"}


def test_a_set_primary_racing_adds_on_the_service_keyset_keeps_every_key(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"SEALBOX_PASSWORD_PROFILE": "test"}
    r = run_sealbox(["serve", "--data-dir", data, "--port", "0", "--check"], env=env)
    assert r.returncode == 0, r.stderr.decode()
    r = run_sealbox(["jwt", "keyset", "add", "--data-dir", data, "--json"], env=env)
    staged = json.loads(r.stdout)["id"]
    adds = [["jwt", "keyset", "add", "--data-dir", data, "--json"]] * 4
    promote = ["jwt", "keyset", "set-primary", "--data-dir", data, "--", staged]
    results = race([promote, *adds], env=env)
    assert [r.code for r in results] == [0] * 5, results
    added = {json.loads(r.out)["id"] for r in results[1:]}
    keys = {k.kid: k for k in DataDir(data).load_keyset()}
    assert len(keys) == 2 + len(added) == 6
    assert keys[staged].primary
    assert {keys[kid].state for kid in added} == {"decrypt-only"}
    events = [json.loads(line)["event"] for line in (data / "audit.log").read_text().splitlines()]
    assert sorted(e for e in events if e.startswith("admin.")) == [
        *["admin.keyset_add"] * 5,
        "admin.keyset_set_primary",
    ]
