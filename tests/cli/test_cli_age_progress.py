"""The progress bar of `sealbox encrypt`/`decrypt`, drawn on a real pseudo-terminal.

The bar is redrawn by its callback, not by a thread: with no other thread, the
command forks its second file-to-file worker. The program runs in a subprocess
whose stderr is a pty; a spy records whether the forked path ran.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
from pathlib import Path

import pytest

from sealbox import age

ME = age.X25519Identity.generate()
SIZE = 64 * 1024 * 1024  # above the bar's 32 MiB threshold

SPY = """
import sys
from sealbox.age import _positional

marker = sys.argv.pop(1)
real = _positional._run_forked


def spy(*args, **kwargs):
    open(marker, "w").close()
    return real(*args, **kwargs)


_positional._run_forked = spy
sys.argv[0] = "sealbox"
from sealbox.cli import console

console()
"""


def _run_on_a_terminal(args: list[str], marker: Path) -> tuple[int, str]:
    leader, follower = os.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", SPY, str(marker), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=follower,
        )
        os.close(follower)
        drawn = b""
        while True:
            ready, _, _ = select.select([leader], [], [], 60)
            if not ready:
                break
            try:
                data = os.read(leader, 65536)
            except OSError:  # the program closed the terminal
                break
            if not data:
                break
            drawn += data
        return proc.wait(timeout=60), drawn.decode(errors="replace")
    finally:
        os.close(leader)


@pytest.mark.skipif(sys.platform != "linux", reason="pseudo-terminals and fork as on Linux")
def test_the_bar_is_drawn_and_the_second_worker_is_a_process(tmp_path: Path):
    plain = tmp_path / "plain"
    plain.write_bytes(os.urandom(SIZE))
    sealed, out = tmp_path / "plain.age", tmp_path / "out"
    keys = tmp_path / "keys.txt"
    keys.write_text(ME.expose_secret() + "\n")

    marker = tmp_path / "forked-encrypt"
    code, drawn = _run_on_a_terminal(
        ["encrypt", "-r", str(ME.recipient()), "-o", str(sealed), str(plain)], marker
    )
    assert code == 0, drawn
    assert "encrypting" in drawn
    assert marker.exists()

    marker = tmp_path / "forked-decrypt"
    code, drawn = _run_on_a_terminal(
        ["decrypt", "-i", str(keys), "-o", str(out), str(sealed)], marker
    )
    assert code == 0, drawn
    assert "decrypting" in drawn
    assert marker.exists()
    assert out.read_bytes() == plain.read_bytes()
