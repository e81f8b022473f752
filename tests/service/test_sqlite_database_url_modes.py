"""An SQLite database given by ``SEALBOX_DATABASE_URL`` holds what the data folder's
``sealbox.db`` holds (password hashes, sealed transit keys): it is held to the same mode,
owner only, or refused with the ``chmod`` to run."""

from __future__ import annotations

from pathlib import Path

import pytest

from sealbox.exceptions import ConfigError
from sealbox.service.serve import load_settings, prepare
from tests.conftest import run_sealbox


@pytest.mark.parametrize("driver", ["sqlite+aiosqlite", "sqlite"])
@pytest.mark.parametrize("suffix", ["", "-wal"])
def test_a_world_readable_sqlite_database_of_the_url_is_refused(
    tmp_path: Path, driver: str, suffix: str
) -> None:
    (tmp_path / "elsewhere").mkdir()
    database = tmp_path / "elsewhere" / "accounts.db"
    settings = load_settings(
        data_dir=tmp_path / "data", database_url=f"{driver}:///{database}", password_profile="test"
    )
    list(prepare(settings, serving=False))
    readable = Path(f"{database}{suffix}")
    readable.touch()
    readable.chmod(0o644)
    with pytest.raises(ConfigError) as caught:
        list(prepare(settings, serving=False))
    assert str(caught.value) == f"{readable} can be read or written by other users (mode 644)"
    assert caught.value.hint == f"chmod 600 {readable}"
    readable.chmod(0o600)
    list(prepare(settings, serving=False))


def test_serve_refuses_a_group_readable_sqlite_database_of_the_url(tmp_path: Path) -> None:
    database = tmp_path / "accounts.db"
    env = {"SEALBOX_DATABASE_URL": f"sqlite+aiosqlite:///{database}"}
    args = ["serve", "--data-dir", tmp_path / "data", "--check"]
    assert run_sealbox(args, env=env).returncode == 0
    database.chmod(0o640)
    r = run_sealbox(args, env=env)
    assert r.returncode == 1
    assert r.stderr.decode().splitlines() == [
        f"sealbox: error: {database} can be read or written by other users (mode 640)",
        f"sealbox: hint: chmod 600 {database}",
    ]


@pytest.mark.parametrize(
    "url", ["sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:", "postgresql://u@h/db"]
)
def test_a_database_url_without_a_file_has_no_mode_to_check(tmp_path: Path, url: str) -> None:
    from sealbox.service.folder_modes import check_modes

    check_modes(load_settings(data_dir=tmp_path / "data", database_url=url))
