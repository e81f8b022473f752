"""A command that saves a passphrase-sealed keyring or keyset again keeps the file's
Argon2id costs when they are above the default (the real program, in a subprocess)."""

from __future__ import annotations

import json
from pathlib import Path

from sealbox.hazmat import kdf
from sealbox.jwt import SigningKeySet
from sealbox.keysets.keyring import Keyring
from tests.conftest import run_sealbox

PASS = "canary-reseal-cli-passphrase-2b90"
ENV = {"SEALBOX_PASSPHRASE": PASS}
# More passes than the default at its memory: stronger, still quick to derive.
STRONGER = kdf.Argon2idParams(time_cost=4, memory_cost=64 * 1024, parallelism=4)


def _file_params(path: Path) -> kdf.Argon2idParams:
    header = dict(json.loads(path.read_bytes())["kdf"])
    header.pop("salt")
    return kdf.Argon2idParams.from_dict(header)


def test_keyring_rotate_keeps_stronger_than_default_costs(tmp_path: Path) -> None:
    path = tmp_path / "app.keyring"
    Keyring.generate().save(path, PASS, kdf_params=STRONGER)
    r = run_sealbox(["keyring", "rotate", path], env=ENV)
    assert r.returncode == 0, r.stderr
    assert _file_params(path) == STRONGER
    assert len(Keyring.load(path, PASS).keys()) == 2


def test_keyring_create_force_over_a_stronger_file_gets_the_default(tmp_path: Path) -> None:
    path = tmp_path / "app.keyring"
    Keyring.generate().save(path, PASS, kdf_params=STRONGER)
    r = run_sealbox(["keyring", "create", path, "--force", "--yes"], env=ENV)
    assert r.returncode == 0, r.stderr
    assert _file_params(path) == kdf.ARGON2ID_DEFAULT


def test_jwt_keyset_rotate_keeps_stronger_than_default_costs(tmp_path: Path) -> None:
    path = tmp_path / "signing.keyset"
    SigningKeySet.generate().save(path, PASS, kdf_params=STRONGER)
    r = run_sealbox(["jwt", "keyset", "rotate", path], env=ENV)
    assert r.returncode == 0, r.stderr
    assert _file_params(path) == STRONGER
    assert len(SigningKeySet.load(path, PASS).keys()) == 2
