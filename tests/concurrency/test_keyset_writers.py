"""JWT signing keysets rotated by racing processes keep every key."""

from __future__ import annotations

import re
from pathlib import Path

from sealbox.jwt import SigningKeySet
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
