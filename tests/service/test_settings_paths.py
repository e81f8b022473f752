"""A path setting that names a folder where a file is wanted, or a file where a folder is
wanted, is said to be one, naming the setting: never a ``chmod`` to run on it (``chmod 600
/tmp`` would break the machine, ``chmod 700`` a file would not help)."""

from __future__ import annotations

from pathlib import Path

import pytest


def _check(cli, tmp_path: Path, env: dict[str, str]):
    return cli(["serve", "--check"], env={"SEALBOX_DATA_DIR": str(tmp_path / "data"), **env})


@pytest.mark.parametrize(
    ("setting", "what"),
    [("SEALBOX_AUDIT_LOG", "audit log"), ("SEALBOX_KEY", "server key")],
)
def test_a_folder_given_as_a_file_is_named_as_a_folder_not_given_a_chmod(
    cli, tmp_path: Path, setting: str, what: str
) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    env = {setting: str(folder)}
    if setting == "SEALBOX_KEY":
        env["SEALBOX_CERT"] = str(tmp_path / "server.crt")
    r = _check(cli, tmp_path, env)
    assert r.code == 1
    assert r.stderr.startswith(f"sealbox: error: the {what} {folder} ({setting}) is a folder")
    assert "chmod" not in r.stderr and "unexpected" not in r.stderr


def test_a_data_folder_that_is_a_file_is_named_as_a_file_not_given_a_chmod(
    cli, tmp_path: Path
) -> None:
    afile = tmp_path / "data"
    afile.write_text("not a folder")
    afile.chmod(0o644)
    r = _check(cli, tmp_path, {})
    assert r.code == 1
    assert r.stderr.startswith(
        f"sealbox: error: the data folder {afile} (SEALBOX_DATA_DIR) is a file"
    )
    assert "chmod" not in r.stderr and "unexpected" not in r.stderr
    assert afile.read_text() == "not a folder"
