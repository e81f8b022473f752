"""``sealbox users …`` and ``sealbox clients …`` given a folder that is no service's data
folder (a mistyped path, ``/tmp``, a folder of other files): told so first, not asked to
``chmod`` it; a service's folder open to others is still refused for its mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_sealbox

ENV = {"SEALBOX_PASSWORD_PROFILE": "test"}
PASSWORD = b"a long password 1"

COMMANDS = [
    ["users", "list"],
    ["users", "show", "bob"],
    ["users", "disable", "bob"],
    ["users", "delete", "bob", "--yes"],
    ["clients", "list"],
    ["clients", "rotate-secret", "bot"],
    ["clients", "delete", "bot", "--yes"],
]


def _folders(tmp_path: Path) -> dict[str, Path]:
    empty = tmp_path / "empty"
    others = tmp_path / "others"
    shared = tmp_path / "shared"  # as /tmp is
    for folder in (empty, others, shared):
        folder.mkdir()
    (others / "notes.txt").write_text("not a service's\n")
    for folder, mode in ((empty, 0o755), (others, 0o755), (shared, 0o1777)):
        folder.chmod(mode)
    return {"empty": empty, "others": others, "shared": shared, "missing": tmp_path / "missing"}


@pytest.mark.parametrize("kind", ["empty", "others", "shared", "missing"])
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_folder_that_is_no_service_s_is_told_so_before_its_mode(
    cli, tmp_path: Path, kind: str, command: list[str]
) -> None:
    folder = _folders(tmp_path)[kind]
    before = sorted(p.name for p in folder.iterdir()) if folder.exists() else None
    r = cli([*command, "--data-dir", folder], env=ENV)
    assert r.code == 1 and r.stdout == b""
    why = "it does not exist" if kind == "missing" else "it holds no accounts database (sealbox.db)"
    assert r.stderr.splitlines() == [
        f"sealbox: error: {folder} is not a service's data folder: {why}",
        "sealbox: hint: run 'sealbox serve' once to provision the data folder",
    ]
    after = sorted(p.name for p in folder.iterdir()) if folder.exists() else None
    assert after == before  # nothing made there, not even the folder


def test_the_library_says_a_folder_is_no_service_s_with_a_code(tmp_path: Path) -> None:
    from sealbox.exceptions import ConfigError
    from sealbox.service import administer_accounts, load_settings

    folder = _folders(tmp_path)["shared"]
    settings = load_settings(data_dir=folder, password_profile="test")
    with pytest.raises(ConfigError) as info:
        administer_accounts(settings, lambda admin: admin.list_accounts())
    assert info.value.code == "service_not_provisioned"
    assert info.value.facts == {"path": str(folder / "sealbox.db")}


@pytest.mark.parametrize("command", COMMANDS[:1] + COMMANDS[4:5], ids=" ".join)
def test_a_service_s_folder_open_to_others_is_still_refused_for_its_mode(
    tmp_path: Path, command: list[str]
) -> None:
    data = tmp_path / "data"
    r = run_sealbox(["users", "create", "alice", "--data-dir", data], input=PASSWORD, env=ENV)
    assert r.returncode == 0, r.stderr.decode()
    data.chmod(0o755)
    r = run_sealbox([*command, "--data-dir", data], env=ENV)
    assert r.returncode == 1
    assert r.stderr.decode().splitlines() == [
        f"sealbox: error: the folder {data} is open to other users (mode 755)",
        f"sealbox: hint: chmod 700 {data}",
    ]


def test_a_folder_that_lost_its_database_says_so_not_that_it_is_no_service_s(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    r = run_sealbox(["serve", "--data-dir", data, "--port", "0", "--check"], env=ENV)
    assert r.returncode == 0, r.stderr.decode()
    (data / "sealbox.db").unlink()
    r = run_sealbox(["users", "list", "--data-dir", data], env=ENV)
    assert r.returncode == 1
    assert r.stderr.decode().startswith(
        f"sealbox: error: the data folder holds keys but its database {data / 'sealbox.db'} "
        "is missing"
    )
