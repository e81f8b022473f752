"""A full file system under the CA and the secrets file: the old files stay whole."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from sealbox import age
from sealbox.secrets.sealed import SealedFile
from tests.conftest import fill, run_sealbox


def test_ca_issue_force_on_a_full_disk_keeps_the_old_pair(small_fs: Path) -> None:
    ca, prefix = small_fs / "ca", small_fs / "server"
    assert run_sealbox(["ca", "init", ca]).returncode == 0
    assert (
        run_sealbox(["ca", "issue", "server", ca, "--san", "a.test", "-o", prefix]).returncode == 0
    )
    old = (prefix.with_suffix(".crt").read_bytes(), prefix.with_suffix(".key").read_bytes())
    filler = small_fs / "filler"
    fill(filler)
    # Room for one page: the new key fits, its certificate does not.
    os.truncate(filler, filler.stat().st_size - 4096)
    for args in (
        ["ca", "issue", "server", ca, "--san", "b.test", "-o", prefix, "--force"],
        ["ca", "renew", ca, prefix, "--force", "--new-key"],
    ):
        r = run_sealbox(args)
        assert r.returncode == 1, r.stderr
        lines = r.stderr.decode().splitlines()
        assert lines[0].startswith("sealbox: error: ") and "no space left" in lines[0]
        assert all(line.startswith("sealbox: ") for line in lines)
        new = (prefix.with_suffix(".crt").read_bytes(), prefix.with_suffix(".key").read_bytes())
        assert new == old
    fill(small_fs / "more")  # and now not even a page: renewing the certificate alone fails
    r = run_sealbox(["ca", "renew", ca, prefix, "--force"])
    assert r.returncode == 1 and b"no space left" in r.stderr
    assert prefix.with_suffix(".crt").read_bytes() == old[0]
    filler.unlink()
    (small_fs / "more").unlink()
    assert [p.name for p in small_fs.iterdir() if p.name.endswith(".tmp")] == []
    # The pair still matches: the CA issues against it, and renew finds its key.
    assert run_sealbox(["ca", "renew", ca, prefix, "--force"]).returncode == 0


def test_ca_init_on_a_full_disk_leaves_no_half_made_ca(small_fs: Path) -> None:
    ca = small_fs / "ca"
    filler = small_fs / "filler"
    fill(filler)
    # Room for one page: the key fits, the certificate does not.
    os.truncate(filler, filler.stat().st_size - 4096)
    r = run_sealbox(["ca", "init", ca])
    assert r.returncode == 1
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 2 and lines[0].startswith("sealbox: error: cannot write")
    assert lines[1].startswith("sealbox: hint: free space on the file system that holds ")
    assert "no space left" in lines[0]
    assert [p.name for p in ca.iterdir() if not p.name.endswith(".lock")] == []
    filler.unlink()
    assert run_sealbox(["ca", "init", ca]).returncode == 0  # nothing in the way


def test_secrets_set_on_a_full_disk_changes_nothing(small_fs: Path) -> None:
    ident = age.X25519Identity.generate()
    path = small_fs / "secrets.env"
    assert run_sealbox(["secrets", "init", path, "-r", str(ident.recipient())]).returncode == 0
    assert run_sealbox(["secrets", "set", path, "A"], input=b"a").returncode == 0
    before = path.read_bytes()
    fill(small_fs / "filler")
    r = run_sealbox(["secrets", "set", path, "B"], input=b"b" * 2000)
    assert r.returncode == 1
    assert r.stderr.decode().startswith("sealbox: error: cannot write")
    assert "no space left" in r.stderr.decode()
    assert path.read_bytes() == before
    assert SealedFile.load(path).get("A", [ident]).expose_secret() == "a"


def test_a_first_start_on_a_full_disk_migrates_whole_once_there_is_room(small_fs: Path) -> None:
    data = small_fs / "data"
    filler = small_fs / "filler"
    fill(filler)
    # Room for the keys and certificates and a few of the database's pages: the tables
    # of the first migrations fit, the rest of the schema does not.
    os.truncate(filler, filler.stat().st_size - 48 * 1024)
    r = run_sealbox(["serve", "--data-dir", data, "--check"])
    assert r.returncode == 1, r.stderr
    lines = r.stderr.decode().splitlines()
    assert lines[-2].startswith("sealbox: error: cannot bring the database's schema up to date")
    assert "disk" in lines[-2] and lines[-1].startswith("sealbox: hint: free disk space")
    assert all(line.startswith("sealbox: ") for line in lines)
    filler.unlink()
    # Nothing of the failed migration stayed: the next start makes the whole schema.
    r = run_sealbox(["serve", "--data-dir", data, "--check"])
    assert r.returncode == 0, r.stderr
    with sqlite3.connect(data / "sealbox.db") as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        (version,) = db.execute("SELECT version_num FROM alembic_version").fetchone()
    assert {"users", "transit_keys", "oauth_clients", "user_totp"} <= tables
    assert version == _head_revision()


def _head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from sealbox.accounts.database import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def test_keyring_and_keyset_writes_on_a_full_disk_keep_the_old_file(small_fs: Path) -> None:
    env = {"SEALBOX_PASSPHRASE": "pass"}
    ring, keys = small_fs / "ring", small_fs / "keys"
    assert run_sealbox(["keyring", "create", ring], env=env).returncode == 0
    assert run_sealbox(["jwt", "keyset", "create", keys], env=env).returncode == 0
    before = {ring: ring.read_bytes(), keys: keys.read_bytes()}
    fill(small_fs / "filler")
    for args in (
        ["keyring", "rotate", ring],
        ["keyring", "create", ring, "--force", "--yes"],
        ["jwt", "keyset", "rotate", keys],
        ["jwt", "keyset", "create", keys, "--force", "--yes"],
    ):
        r = run_sealbox(args, env=env)
        assert r.returncode == 1, r.stderr
        lines = r.stderr.decode().splitlines()
        assert len(lines) == 2 and lines[0].startswith("sealbox: error: cannot write")
        assert lines[1].startswith("sealbox: hint: free space on the file system that holds ")
        assert "no space left" in lines[0]
    assert {path: path.read_bytes() for path in before} == before
    assert [p.name for p in small_fs.iterdir() if p.name.endswith(".tmp")] == []
    (small_fs / "filler").unlink()
    assert run_sealbox(["keyring", "rotate", ring], env=env).returncode == 0
    assert run_sealbox(["jwt", "keyset", "rotate", keys], env=env).returncode == 0


def test_a_write_on_a_full_disk_has_the_code_disk_full_and_a_hint_naming_the_folder(
    small_fs: Path,
) -> None:
    from sealbox.exceptions import StorageError
    from sealbox.storage import atomic_write

    fill(small_fs / "filler")
    target = small_fs / "out.bin"
    with pytest.raises(StorageError) as refused:
        atomic_write(target, os.urandom(64 * 1024))
    assert (refused.value.code, refused.value.facts) == ("disk_full", {"path": str(target)})

    identity = age.X25519Identity.generate()
    source = small_fs.parent / f"{small_fs.name}-plain.txt"
    source.write_bytes(os.urandom(256 * 1024))
    try:
        r = run_sealbox(
            ["encrypt", "-r", str(identity.recipient()), "-o", str(target), str(source)]
        )
    finally:
        source.unlink()
    assert r.returncode == 1
    lines = r.stderr.decode().splitlines()
    assert lines[0] == f"sealbox: error: cannot write {target}: no space left on device"
    hint = f"sealbox: hint: free space on the file system that holds {target} ('df -h' shows it)"
    assert lines[1:] == [f"{hint}, then run the command again"]
    assert not target.exists()
