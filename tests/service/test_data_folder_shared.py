"""A data folder shared with other users (sticky as ``/tmp``, writable by anyone, another
user's) or holding files that are not sealbox's is refused with a folder of its own to
use, never with a ``chmod`` (nor ``chown``) of it, which would break it for the others;
``chmod 700`` stays the advice for a folder that is sealbox's to close."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.conftest import run_sealbox

ENV = {"SEALBOX_PASSWORD_PROFILE": "test"}
PASSWORD = b"a long password 1"

CREATING = [
    ["users", "create", "alice"],
    ["clients", "create", "bot"],
    ["serve", "--port", "0", "--check"],
]


def _folder(tmp_path: Path, mode: int, *, other_file: bool = False) -> Path:
    folder = tmp_path / "shared"
    folder.mkdir()
    if other_file:
        (folder / "notes.txt").write_text("someone else's\n")
    folder.chmod(mode)
    return folder


def _refused(folder: Path, args: list[str], why: str) -> None:
    before = sorted(p.name for p in folder.iterdir())
    mode = stat.S_IMODE(folder.stat().st_mode)
    r = run_sealbox([*args, "--data-dir", folder], input=PASSWORD, env=ENV)
    assert r.returncode == 1, r.stderr.decode()
    assert r.stderr.decode().splitlines() == [
        (
            f"sealbox: error: the folder {folder} is open to other users (mode {mode:o}) "
            f"{why}: the service's keys and database cannot be kept there"
        ),
        (
            f"sealbox: hint: give the service a folder of its own, such as {folder / 'sealbox'} "
            f"or one in your home folder (sealbox makes it, mode 700); leave the mode of "
            f"{folder} as it is"
        ),
    ]
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing made there
    assert stat.S_IMODE(folder.stat().st_mode) == mode


@pytest.mark.parametrize("args", CREATING, ids=" ".join)
def test_a_sticky_folder_like_tmp_is_shared_and_never_told_to_be_chmod_ed(
    tmp_path: Path, args: list[str]
) -> None:
    folder = _folder(tmp_path, 0o1777)
    _refused(folder, args, "and shared with them (sticky, shared by design)")


@pytest.mark.parametrize("args", CREATING, ids=" ".join)
def test_a_folder_anyone_may_write_that_sealbox_did_not_make_is_shared(
    tmp_path: Path, args: list[str]
) -> None:
    folder = _folder(tmp_path, 0o777)
    _refused(folder, args, "and shared with them (writable by anyone)")


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="giving a folder to another user (uid 65534) needs root",
)
@pytest.mark.parametrize("args", CREATING, ids=" ".join)
def test_another_user_s_open_folder_is_shared_not_told_to_be_chown_ed(
    tmp_path: Path, args: list[str]
) -> None:
    folder = _folder(tmp_path, 0o755)
    os.chown(folder, 65534, 65534)
    _refused(folder, args, "and shared with them (owned by uid 65534)")


@pytest.mark.parametrize("args", CREATING, ids=" ".join)
def test_an_open_folder_of_other_files_is_not_told_to_be_chmod_ed(
    tmp_path: Path, args: list[str]
) -> None:
    folder = _folder(tmp_path, 0o755, other_file=True)
    _refused(folder, args, "and holds files that are not sealbox's")


def test_the_folder_of_its_own_the_hint_names_is_made_closed_and_serves(tmp_path: Path) -> None:
    shared = _folder(tmp_path, 0o1777)
    data = shared / "sealbox"
    r = run_sealbox(["users", "create", "alice", "--data-dir", data], input=PASSWORD, env=ENV)
    assert r.returncode == 0, r.stderr.decode()
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    r = run_sealbox(["serve", "--data-dir", data, "--port", "0", "--check"], env=ENV)
    assert r.returncode == 0, r.stderr.decode()
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777


@pytest.mark.parametrize("mode", [0o755, 0o777])
def test_a_folder_sealbox_made_open_to_others_is_still_told_to_be_chmod_ed(
    tmp_path: Path, mode: int
) -> None:
    data = tmp_path / "data"
    r = run_sealbox(["users", "create", "alice", "--data-dir", data], input=PASSWORD, env=ENV)
    assert r.returncode == 0, r.stderr.decode()
    data.chmod(mode)
    for args in (["users", "create", "bob"], ["serve", "--port", "0", "--check"]):
        r = run_sealbox([*args, "--data-dir", data], input=PASSWORD, env=ENV)
        assert r.returncode == 1
        assert r.stderr.decode().splitlines() == [
            f"sealbox: error: the folder {data} is open to other users (mode {mode:o})",
            f"sealbox: hint: chmod 700 {data}",
        ]


def test_the_library_names_a_shared_folder_with_a_code(tmp_path: Path) -> None:
    from sealbox.exceptions import ConfigError
    from sealbox.service import create_user, load_settings

    folder = _folder(tmp_path, 0o1777)
    settings = load_settings(data_dir=folder, password_profile="test")
    with pytest.raises(ConfigError) as info:
        create_user(settings, "alice", lambda _name: PASSWORD.decode())
    assert info.value.code == "data_dir_shared"
    assert info.value.facts == {"path": str(folder), "mode": "1777"}
    assert "chmod" not in str(info.value) + (info.value.hint or "")
