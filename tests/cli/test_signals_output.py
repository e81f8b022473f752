"""`sealbox encrypt`/`decrypt` under the signals a shell sends, and an output that stops.

Real processes and real signals: a hang-up (the terminal or SSH connection closed) while
writing `-o FILE` leaves nothing behind, as Ctrl-C and SIGTERM do; a signal the caller
ignores (a background job in a script ignores Ctrl-C, `nohup` ignores SIGHUP) stays
ignored, and the run finishes. A reader that goes away (`| head -c 10`) ends the run
quietly, and a standard output with no room left is named as such, with a hint.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sealbox import age
from tests.cli._signals import signal_while_writing

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="POSIX signals, /dev/full")

ME = age.X25519Identity.generate()
# Large enough that the run is still writing when the signal lands on a busy machine.
SIZE = 512 * 1024 * 1024


def _sparse(path: Path, size: int = SIZE) -> Path:
    with open(path, "wb") as fh:
        fh.truncate(size)  # quick to make, read as zeros
    return path


def _argv(command: str, tmp_path: Path) -> tuple[list[str], Path]:
    """The command line of a large run into ``-o OUT``, and OUT."""
    plain = _sparse(tmp_path / "plain")
    if command == "encrypt":
        out = tmp_path / "out.age"
        return ["encrypt", "-r", str(ME.recipient()), "-o", str(out), str(plain)], out
    sealed = tmp_path / "plain.age"
    age.encrypt_file(plain, sealed, [ME.recipient()])
    plain.unlink()
    keys = tmp_path / "keys.txt"
    keys.write_text(ME.expose_secret() + "\n")
    out = tmp_path / "out"
    return ["decrypt", "-i", str(keys), "-o", str(out), str(sealed)], out


def _temporaries(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("command", ["encrypt", "decrypt"])
def test_a_hang_up_while_writing_leaves_no_output_and_no_temporary(tmp_path, command):
    # The terminal or the SSH connection closed: a decrypted part must not stay on disk.
    argv, out = _argv(command, tmp_path)
    code, stderr = signal_while_writing(argv, out, signal.SIGHUP)
    assert code == 128 + signal.SIGHUP, stderr
    assert stderr == "sealbox: error: hung up\n"
    assert not out.exists()
    assert _temporaries(tmp_path) == []


@pytest.mark.parametrize(
    "signum", [signal.SIGINT, signal.SIGHUP], ids=["ctrl-c-of-a-background-job", "nohup"]
)
def test_a_signal_the_caller_ignores_stays_ignored_and_the_run_finishes(tmp_path, signum):
    # `sealbox decrypt … &` in a script ignores Ctrl-C (meant for the foreground job), and
    # `nohup sealbox decrypt …` ignores the hang-up: the run must not die of them.
    argv, out = _argv("decrypt", tmp_path)
    code, stderr = signal_while_writing(argv, out, signum, ignored=(signum,))
    assert code == 0, stderr
    assert stderr == ""
    assert out.stat().st_size == SIZE
    assert _temporaries(tmp_path) == []


@pytest.mark.parametrize("command", ["encrypt", "decrypt"])
def test_a_reader_that_goes_away_ends_the_run_quietly(tmp_path, command):
    plain = tmp_path / "plain"
    plain.write_bytes(os.urandom(4 * 1024 * 1024))
    keys = tmp_path / "keys.txt"
    keys.write_text(ME.expose_secret() + "\n")
    if command == "encrypt":
        argv = ["encrypt", "-r", str(ME.recipient()), str(plain)]
    else:
        age.encrypt_file(plain, tmp_path / "plain.age", [ME.recipient()])
        argv = ["decrypt", "-i", str(keys), str(tmp_path / "plain.age")]
    # `sealbox … | head -c 10`, with the shell's SIGPIPE ignored as Python starts it.
    proc = subprocess.Popen(
        [sys.executable, "-m", "sealbox", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    assert proc.stdout is not None
    assert len(proc.stdout.read(10)) == 10
    proc.stdout.close()
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert stderr == b""
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in (plain, keys, tmp_path / "plain.age") if p.exists()
    )


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("command", ["encrypt", "decrypt"])
def test_a_full_standard_output_is_named_with_a_hint(tmp_path, command):
    plain = tmp_path / "plain"
    plain.write_bytes(os.urandom(200_000))
    keys = tmp_path / "keys.txt"
    keys.write_text(ME.expose_secret() + "\n")
    if command == "encrypt":
        argv = ["encrypt", "-r", str(ME.recipient()), str(plain)]
    else:
        age.encrypt_file(plain, tmp_path / "plain.age", [ME.recipient()])
        argv = ["decrypt", "-i", str(keys), str(tmp_path / "plain.age")]
    with open("/dev/full", "wb") as full:
        r = subprocess.run(
            [sys.executable, "-m", "sealbox", *argv], stdout=full, stderr=subprocess.PIPE
        )
    assert r.returncode == 1
    lines = r.stderr.decode().splitlines()
    assert lines[0] == "sealbox: error: cannot write standard output: no space left on device"
    assert lines[1].startswith("sealbox: hint: standard output is a device (/dev/full)")
    assert "-o FILE" in lines[1]
    assert len(lines) == 2


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_value_printed_to_a_full_standard_output_is_named_with_a_hint(tmp_path):
    # `sealbox secrets get FILE NAME > FILE` on a full disk: the same words as decrypt's.
    keys = tmp_path / "keys.txt"
    keys.write_text(ME.expose_secret() + "\n")
    store = tmp_path / "s.env"
    sealbox = [sys.executable, "-m", "sealbox"]
    subprocess.run([*sealbox, "secrets", "init", str(store), "-r", str(ME.recipient())], check=True)
    subprocess.run(
        [*sealbox, "secrets", "set", str(store), "TOKEN"], input=b"x" * 100_000, check=True
    )
    with open("/dev/full", "wb") as full:
        r = subprocess.run(
            [*sealbox, "secrets", "get", str(store), "TOKEN", "-i", str(keys)],
            stdout=full,
            stderr=subprocess.PIPE,
        )
    assert r.returncode == 1
    assert r.stderr.decode().splitlines() == [
        "sealbox: error: cannot write standard output: no space left on device",
        (
            "sealbox: hint: standard output is a device (/dev/full), not a file, and it "
            "refused the write (it has no room, or takes no data): redirect it to a file"
        ),
    ]
