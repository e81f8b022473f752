"""A write into a folder that does not exist is said one way, with `mkdir -p`, by every command."""

from __future__ import annotations

import pytest

from tests.conftest import run_sealbox


def _commands(tmp_path):
    identity = tmp_path / "id.txt"
    assert run_sealbox(["keygen", "-o", identity]).returncode == 0
    sealed = tmp_path / "in.age"
    made = run_sealbox(["encrypt", "-i", identity, "-o", sealed], input=b"data")
    assert made.returncode == 0, made.stderr
    return {
        "encrypt": (["encrypt", "-i", identity, "-o", "nodir/out"], b"data"),
        "decrypt": (["decrypt", "-i", identity, "-o", "nodir/out", sealed], b""),
        "keygen": (["keygen", "-o", "nodir/out"], b""),
        # These take a lock beside the file first: the same words all the same.
        "key generate": (["key", "generate", "-o", "nodir/out"], b""),
        "jwt keyset create": (["jwt", "keyset", "create", "nodir/out"], b""),
    }


@pytest.mark.parametrize(
    "command", ["encrypt", "decrypt", "keygen", "key generate", "jwt keyset create"]
)
def test_a_missing_output_folder_is_said_alike_with_mkdir(tmp_path, monkeypatch, command):
    args, stdin = _commands(tmp_path)[command]
    monkeypatch.chdir(tmp_path)
    result = run_sealbox(args, input=stdin, env={"SEALBOX_PASSPHRASE": "pass phrase"})
    assert result.returncode == 1
    lines = result.stderr.decode().splitlines()
    # The folder as typed, whether the lock file or the new version found it missing.
    assert lines == [
        "sealbox: error: cannot write in nodir: the folder does not exist",
        "sealbox: hint: create it first (mkdir -p nodir), or give another path",
    ]
    assert not (tmp_path / "nodir").exists()
