"""`sealbox encrypt|decrypt` against the `age` CLI at chunk and batch boundaries, both ways.

Each size goes through both ways the command line has through a file: file to file
(`-o` and a named input: batches in two processes) and streamed (stdin to stdout).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from sealbox import age
from tests.conftest import require_tool, run_sealbox

pytestmark = pytest.mark.interop

CHUNK = 64 * 1024
BATCH = 64 * CHUNK  # the file-to-file batch: 4 MiB
ME = age.X25519Identity.generate()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    age_bin = require_tool("age")
    folder = tmp_path_factory.mktemp("boundaries")
    (folder / "key.txt").write_text(age.identity_file(ME))
    return age_bin, folder


@pytest.mark.parametrize("size", [0, CHUNK, BATCH, BATCH + 1], ids=lambda n: f"{n}B")
def test_each_way_through_the_command_line_opens_with_age_and_back(setup, tmp_path, size):
    age_bin, folder = setup
    key = folder / "key.txt"
    plain = os.urandom(size)
    src = tmp_path / "plain"
    src.write_bytes(plain)

    def age_run(*args: object, input: bytes = b"") -> bytes:
        r = subprocess.run(
            [age_bin, *map(str, args)], input=input, capture_output=True, timeout=60, check=False
        )
        assert r.returncode == 0, r.stderr
        return r.stdout

    # sealbox -> age
    assert (
        run_sealbox(["encrypt", "-r", ME.recipient(), "-o", tmp_path / "a.age", src]).returncode
        == 0
    )
    streamed = run_sealbox(["encrypt", "-r", ME.recipient()], input=plain)
    assert streamed.returncode == 0, streamed.stderr
    assert age_run("-d", "-i", key, tmp_path / "a.age") == plain
    assert age_run("-d", "-i", key, input=streamed.stdout) == plain
    # age -> sealbox
    age_run("-r", ME.recipient(), "-o", tmp_path / "b.age", src)
    r = run_sealbox(["decrypt", "-i", key, "-o", tmp_path / "b.out", tmp_path / "b.age"])
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "b.out").read_bytes() == plain
    r = run_sealbox(["decrypt", "-i", key], input=(tmp_path / "b.age").read_bytes())
    assert (r.returncode, r.stdout == plain) == (0, True), r.stderr
