"""Armored files with whitespace around the block: what `age` opens, sealbox opens.

age strips what Go's ``bytes.TrimSpace`` takes for space after the END line (up to
1 KiB); the ASCII part of that is space, tab, CR, LF, and also vertical tab and form
feed, which sealbox refused ("data after the end line").
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sealbox import age
from tests.conftest import require_tool

pytestmark = pytest.mark.interop

ME = age.X25519Identity.generate()


@pytest.mark.parametrize(
    "trailer",
    [b" \t\r\n", b"\x0c\n", b"\n\x0b", b"\x0c\x0b \n"],
    ids=["space-tab-crlf", "form-feed", "vertical-tab", "both"],
)
def test_whitespace_after_the_armor_that_age_accepts(tmp_path: Path, trailer: bytes):
    age_bin = require_tool("age")
    keys = tmp_path / "key.txt"
    keys.write_text(age.identity_file(ME))
    sealed = tmp_path / "f.age"
    sealed.write_bytes(age.encrypt(b"hello", [ME.recipient()], armor=True) + trailer)
    theirs = subprocess.run(
        [age_bin, "-d", "-i", str(keys), str(sealed)], capture_output=True, timeout=60, check=False
    )
    assert (theirs.returncode, theirs.stdout) == (0, b"hello"), theirs.stderr
    assert age.decrypt(sealed.read_bytes(), [ME]) == b"hello"
