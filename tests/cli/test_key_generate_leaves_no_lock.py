"""`sealbox key generate` leaves FILE and FILE.pub in the folder, and nothing else.

The folder is often ~/.ssh, which is the user's and not sealbox's: no `.FILE.lock`, no
temporary file may stay there. The pair is still written one writer at a time: two
`key generate` of one FILE at once never both succeed, and never leave FILE of one
pair beside FILE.pub of the other.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sealbox.keys.asymmetric import PrivateKey, PublicKey
from tests._race import race


def test_key_generate_leaves_only_the_pair_in_the_folder(tmp_path: Path, cli) -> None:
    folder = tmp_path / "ssh"
    folder.mkdir(mode=0o700)
    r = cli(["key", "generate", "-o", folder / "id_ed25519", "--no-passphrase"])
    assert r.code == 0, r.stderr
    assert sorted(os.listdir(folder)) == ["id_ed25519", "id_ed25519.pub"]


def test_key_generate_force_over_a_pair_leaves_only_the_new_pair(tmp_path: Path, cli) -> None:
    out = tmp_path / "id"
    assert cli(["key", "generate", "-o", out, "--no-passphrase"]).code == 0
    old = PublicKey.load(tmp_path / "id.pub")
    r = cli(
        ["key", "generate", "--type", "ecdsa", "-o", out, "--no-passphrase", "--force", "--yes"]
    )
    assert r.code == 0, r.stderr
    assert sorted(os.listdir(tmp_path)) == ["id", "id.pub"]
    new = PrivateKey.load(out).public_key
    assert new == PublicKey.load(tmp_path / "id.pub") != old


def test_key_generate_refused_over_an_existing_file_leaves_nothing(tmp_path: Path, cli) -> None:
    (tmp_path / "id.pub").write_text("mine\n")
    r = cli(["key", "generate", "-o", tmp_path / "id", "--no-passphrase"])
    assert r.code == 1
    assert sorted(os.listdir(tmp_path)) == ["id.pub"]
    assert (tmp_path / "id.pub").read_text() == "mine\n"


@pytest.mark.parametrize("force", [False, True], ids=["exclusive", "force"])
def test_racing_key_generate_of_one_file_leave_one_matching_pair_and_no_lock_file(
    tmp_path: Path, force: bool
) -> None:
    out = tmp_path / "id"
    args = [
        "key",
        "generate",
        "-o",
        out,
        "--no-passphrase",
        *(["--force", "--yes"] if force else []),
    ]
    outcomes = race([args] * 4)
    winners = [o for o in outcomes if o.code == 0]
    if force:
        assert len(winners) == 4, [o.err for o in outcomes]
    else:
        assert len(winners) == 1, [o.err for o in outcomes]
        for loser in (o for o in outcomes if o.code != 0):
            assert loser.code == 1
            assert "already exists" in loser.err
    assert PrivateKey.load(out).public_key == PublicKey.load(tmp_path / "id.pub")
    assert sorted(os.listdir(tmp_path)) == ["id", "id.pub"]
