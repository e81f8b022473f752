"""An empty ``SEALBOX_DATA_DIR`` (an unset shell variable: ``SEALBOX_DATA_DIR=$DATA``),
in the environment or in ``.env``, stops ``sealbox serve`` naming the setting: it is not
the working directory, where a first start would write a master key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("where", ["environment", ".env"])
def test_serve_with_an_empty_data_dir_is_refused_and_writes_nothing_in_the_working_directory(
    tmp_path: Path, where: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    if where == "environment":
        env["SEALBOX_DATA_DIR"] = ""
    else:
        (tmp_path / ".env").write_text("SEALBOX_DATA_DIR=\n")
    r = subprocess.run(
        [sys.executable, "-m", "sealbox", "serve", "--port", "0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == 1, r.stderr
    assert r.stderr == (
        "sealbox: error: invalid settings: SEALBOX_DATA_DIR: empty: give a path, or leave "
        "it unset for the default\n"
        "sealbox: hint: check the SEALBOX_* variables, the .env file and the options\n"
    )
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ([".env"] if where == ".env" else [])
