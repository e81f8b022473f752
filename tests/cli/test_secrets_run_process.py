"""`sealbox secrets run` as a process: exit status, signals, environment, the hints.

Real processes throughout: `run` replaces itself with the command, so what the command
inherits from sealbox's own Python process (signal dispositions, variables) is what
these check.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sealbox import age
from tests.conftest import run_sealbox

CANARY = "canary-secrets-run-5e2d"
PASSPHRASE = "canary-passphrase-run-9b41"


@pytest.fixture
def key(tmp_path: Path) -> Path:
    ident = age.X25519Identity.generate()
    path = tmp_path / "key.txt"
    path.write_text(age.identity_file(ident))
    return path


@pytest.fixture
def sfile(tmp_path: Path, cli, key: Path) -> Path:
    path = tmp_path / "secrets.env"
    recipient = run_sealbox(["keygen", "-y", key]).stdout.decode().strip()
    assert cli(["secrets", "init", path, "-r", recipient]).code == 0
    assert cli(["secrets", "set", path, "TOKEN"], input=CANARY.encode()).code == 0
    return path


def _run_argv(sfile: Path, key: Path, *command: str) -> list[str]:
    return [sys.executable, "-m", "sealbox", "secrets", "run", str(sfile), "-i", str(key), *command]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}


@pytest.mark.parametrize("status", [0, 1, 42, 255])
def test_run_exits_with_the_commands_own_status(sfile: Path, key: Path, status: int) -> None:
    p = run_sealbox(["secrets", "run", sfile, "-i", key, "--", "sh", "-c", f"exit {status}"])
    assert p.returncode == status, p.stderr
    assert p.stderr == b""


def test_run_is_replaced_by_the_command_so_signals_reach_it_and_it_dies_of_them(
    sfile: Path, key: Path
) -> None:
    # The same process: the caller's pid is the command's, a signal sent to it is the
    # command's to handle, and one it does not handle ends it as it would end the
    # command (a shell shows 128 + N), not with a status sealbox made up.
    script = "trap 'kill $!; echo got TERM; exit 3' TERM; echo $$; sleep 60 & wait"
    with subprocess.Popen(
        _run_argv(sfile, key, "--", "sh", "-c", script),
        stdout=subprocess.PIPE,
        env=_env(),
    ) as p:
        assert p.stdout is not None
        assert int(p.stdout.readline()) == p.pid
        cmdline = Path(f"/proc/{p.pid}/cmdline").read_bytes()
        assert cmdline.split(b"\0")[:2] == [b"sh", b"-c"]
        assert CANARY.encode() not in cmdline
        p.send_signal(signal.SIGTERM)
        assert p.stdout.readline() == b"got TERM\n"
        assert p.wait(30) == 3
    killed = run_sealbox(["secrets", "run", sfile, "-i", key, "--", "sh", "-c", "kill -KILL $$"])
    assert killed.returncode == -signal.SIGKILL


def _ignored_signals(status: bytes) -> int:
    line = next(x for x in status.splitlines() if x.startswith(b"SigIgn:"))
    return int(line.split()[1], 16)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_run_gives_the_command_sigpipe_and_sigxfsz_at_their_defaults(
    sfile: Path, key: Path
) -> None:
    # Python ignores both at start-up; an ignored signal stays ignored across exec(), so
    # `run … yes | head -1` printed "yes: standard output: Broken pipe" and exited 1.
    p = run_sealbox(["secrets", "run", sfile, "-i", key, "--", "cat", "/proc/self/status"])
    assert p.returncode == 0, p.stderr
    ignored = _ignored_signals(p.stdout)
    assert not ignored & (1 << (signal.SIGPIPE - 1))
    assert not ignored & (1 << (signal.SIGXFSZ - 1))


@pytest.mark.skipif(shutil.which("yes") is None, reason="needs yes(1)")
def test_run_command_writing_to_a_closed_pipe_dies_of_sigpipe_quietly(
    sfile: Path, key: Path
) -> None:
    with subprocess.Popen(
        _run_argv(sfile, key, "yes"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
    ) as p:
        assert p.stdout is not None and p.stderr is not None
        assert p.stdout.read(2) == b"y\n"
        p.stdout.close()  # as `| head -1` does
        assert p.wait(30) == -signal.SIGPIPE
        assert p.stderr.read() == b""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_run_keeps_a_signal_the_caller_ignores_ignored(sfile: Path, key: Path) -> None:
    # `nohup sealbox secrets run …`: the command must not die when the terminal goes.
    p = subprocess.run(
        _run_argv(sfile, key, "cat", "/proc/self/status"),
        capture_output=True,
        env=_env(),
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),
        check=False,
    )
    assert p.returncode == 0, p.stderr
    assert _ignored_signals(p.stdout) & (1 << (signal.SIGHUP - 1))


def test_run_does_not_hand_sealboxs_passphrase_variable_to_the_command(
    sfile: Path, key: Path, tmp_path: Path
) -> None:
    # The passphrase unlocks the identity, so every value of every file sealed to it:
    # the command is given the values of this file, not the key to all of them.
    locked = tmp_path / "key.age"
    made = run_sealbox(["encrypt", "-p", "-o", locked, key], env={"SEALBOX_PASSPHRASE": PASSPHRASE})
    assert made.returncode == 0, made.stderr
    code = "import os; print(os.environ.get('SEALBOX_PASSPHRASE'), os.environ['TOKEN'])"
    for identity in (locked, key):
        p = run_sealbox(
            ["secrets", "run", sfile, "-i", identity, "--", sys.executable, "-c", code],
            env={"SEALBOX_PASSPHRASE": PASSPHRASE},
        )
        assert p.returncode == 0, p.stderr
        assert p.stdout.decode().split() == ["None", CANARY]


def test_run_of_a_command_not_on_path_says_where_it_looked(sfile: Path, key: Path) -> None:
    p = run_sealbox(["secrets", "run", sfile, "-i", key, "--", "no-such-program-x"])
    assert p.returncode == 127
    assert p.stderr.decode().splitlines() == [
        "sealbox: error: command not found: no-such-program-x",
        "sealbox: hint: it was looked up on your PATH; check the name, or give the program's path",
    ]


def test_run_of_a_program_in_this_folder_given_by_name_hints_at_its_path(
    sfile: Path, key: Path, tmp_path: Path
) -> None:
    # A shell does not look in the current folder either; `manage.py` for `./manage.py`
    # is the usual slip.
    (tmp_path / "manage.py").write_text("#!/bin/sh\necho ran\n")
    (tmp_path / "manage.py").chmod(0o755)
    p = subprocess.run(
        _run_argv(sfile, key, "manage.py", "migrate"),
        capture_output=True,
        env=_env(),
        cwd=tmp_path,
        check=False,
    )
    assert p.returncode == 127
    assert p.stderr.decode().splitlines()[1] == (
        "sealbox: hint: the command is looked up on your PATH, not in this folder: "
        "to run the one here, give its path: ./manage.py"
    )
