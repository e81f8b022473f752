"""Modes of what sealbox writes do not depend on the writer's umask.

Each writer runs as a real ``sealbox`` process under umask 0 and under 077: new
secret-bearing files are 0600, new folders (and the parents made for them) 0700, and a
rewrite keeps the mode of the file it replaces.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests._race import clean_env

PASSPHRASE = "correct horse battery staple"


def _sealbox(cwd: Path, umask: int, *args: str, stdin: bytes = b"") -> str:
    """Run ``sealbox ARGS`` under ``umask``; return stdout (fail on a non-zero exit)."""
    code = f"import os, sys, runpy; os.umask({umask}); sys.argv = ['sealbox', *sys.argv[1:]]; "
    code += "runpy.run_module('sealbox', run_name='__main__')"
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        env=clean_env({"SEALBOX_PASSPHRASE": PASSPHRASE}),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout.decode()


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


UMASKS = pytest.mark.parametrize("umask", [0o000, 0o077], ids=["umask000", "umask077"])


@UMASKS
def test_new_key_files_are_0600_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    _sealbox(tmp_path, umask, "keygen", "-o", "id.txt")
    _sealbox(tmp_path, umask, "keyring", "create", "ring.json")
    _sealbox(tmp_path, umask, "jwt", "keyset", "create", "keyset.json")
    _sealbox(tmp_path, umask, "key", "generate", "-o", "id_ed", "--no-passphrase", "--yes")
    for name in ("id.txt", "ring.json", "keyset.json", "id_ed"):
        assert _mode(tmp_path / name) == 0o600, name
    assert _mode(tmp_path / "id_ed.pub") == 0o644


# 0277 takes the owner's write right too: what sealbox must write again keeps it.
UMASKS_ALL = pytest.mark.parametrize(
    "umask", [0o000, 0o077, 0o277], ids=["umask000", "umask077", "umask277"]
)


@UMASKS_ALL
def test_a_new_ca_folder_and_the_parents_made_for_it_are_0700(tmp_path: Path, umask: int) -> None:
    _sealbox(tmp_path, umask, "ca", "init", "made/for/ca")
    for folder in ("made", "made/for", "made/for/ca"):
        assert _mode(tmp_path / folder) == 0o700, folder
    assert _mode(tmp_path / "made/for/ca/ca.key") == 0o600


@UMASKS_ALL
def test_a_new_data_folder_and_the_parents_made_for_it_are_0700(tmp_path: Path, umask: int) -> None:
    _sealbox(tmp_path, umask, "serve", "--check", "--data-dir", "made/for/data")
    for folder in ("made", "made/for", "made/for/data", "made/for/data/tls"):
        assert _mode(tmp_path / folder) == 0o700, folder
    data = tmp_path / "made/for/data"
    for name in (
        "master.key",
        "jwt-keyset.sealed",
        "sealbox.db",
        "audit.log",
        "tls/ca.key",
        "tls/server.key",
    ):
        assert _mode(data / name) == 0o600, name


@UMASKS
def test_rewritten_key_and_secrets_files_keep_the_mode_their_owner_gave(
    tmp_path: Path, umask: int
) -> None:
    _sealbox(tmp_path, 0o022, "keygen", "-o", "id.txt")
    recipient = _sealbox(tmp_path, 0o022, "keygen", "-y", "id.txt").strip()
    _sealbox(tmp_path, 0o022, "keyring", "create", "ring.json")
    _sealbox(tmp_path, 0o022, "jwt", "keyset", "create", "keyset.json")
    _sealbox(tmp_path, 0o022, "secrets", "init", "app.env", "-r", recipient)
    shared = {"ring.json": 0o640, "keyset.json": 0o640, "app.env": 0o600}
    for name, mode in shared.items():
        os.chmod(tmp_path / name, mode)
    _sealbox(tmp_path, umask, "keyring", "rotate", "ring.json")
    _sealbox(tmp_path, umask, "jwt", "keyset", "rotate", "keyset.json")
    _sealbox(tmp_path, umask, "secrets", "set", "app.env", "TOKEN", stdin=b"value")
    for name, mode in shared.items():
        assert _mode(tmp_path / name) == mode, name
    _sealbox(tmp_path, umask, "keyring", "list", "ring.json")  # still whole and readable
    assert "TOKEN" in _sealbox(tmp_path, umask, "secrets", "list", "app.env")
