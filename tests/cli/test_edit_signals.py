"""`sealbox secrets edit` under a signal the caller ignores, in real processes.

`nohup sealbox secrets edit …` asks for a hang-up not to end the session, and a script's
background job ignores the Ctrl-C meant for the foreground one: the edit goes on and is
saved, the editor it starts ignores the signal too, and the decrypted copy is still
removed when the command ends. A signal not ignored ends the session as before.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sealbox import age

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="POSIX signals")

ME = age.X25519Identity.generate()
SEALBOX = [sys.executable, "-m", "sealbox"]

# Says it is open (writes READY), waits for GO, then changes the value and saves.
EDITOR = """\
import os, sys, time
from pathlib import Path
Path(os.environ["EDIT_READY"]).write_text(str(os.getpid()))
while not Path(os.environ["EDIT_GO"]).exists():
    time.sleep(0.01)
path = Path(sys.argv[-1])
path.write_text(path.read_text().replace("TOKEN=old", "TOKEN=new"))
"""


def _store(tmp_path: Path) -> tuple[Path, Path]:
    keys = tmp_path / "keys.txt"
    keys.write_text(ME.expose_secret() + "\n")
    store = tmp_path / "s.env"
    subprocess.run([*SEALBOX, "secrets", "init", str(store), "-r", str(ME.recipient())], check=True)
    subprocess.run([*SEALBOX, "secrets", "set", str(store), "TOKEN"], input=b"old", check=True)
    return store, keys


def _edit_with_signal(
    tmp_path: Path, signum: int, *, ignored: tuple[int, ...], group: bool = False
) -> tuple[int, str, str]:
    """Run `secrets edit` with ``ignored`` signals ignored, send ``signum`` to sealbox
    (to its whole process group, as a terminal does, with ``group``) while the editor is
    open, then let the editor save; return the exit status, stderr and the value."""
    store, keys = _store(tmp_path)
    script = tmp_path / "editor.py"
    script.write_text(EDITOR)
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    ready, go = tmp_path / "ready", tmp_path / "go"
    env = {
        **os.environ,
        "EDITOR": f"{sys.executable} {script}",
        "XDG_RUNTIME_DIR": str(runtime),
        "EDIT_READY": str(ready),
        "EDIT_GO": str(go),
    }
    env.pop("VISUAL", None)

    def start() -> None:
        if group:
            os.setpgrp()
        for each in ignored:
            signal.signal(each, signal.SIG_IGN)

    proc = subprocess.Popen(
        [*SEALBOX, "secrets", "edit", str(store), "-i", str(keys)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        preexec_fn=start,  # noqa: PLW1509 - only signal dispositions and a group, before exec
    )
    deadline = time.monotonic() + 60
    while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    if not ready.exists():
        proc.kill()
        pytest.fail(f"the editor did not start: {proc.communicate()[1].decode()}")
    if group:
        os.killpg(proc.pid, signum)
    else:
        proc.send_signal(signum)
    go.touch()
    _, stderr = proc.communicate(timeout=60)
    assert list(runtime.iterdir()) == []  # the decrypted copy is gone either way
    value = subprocess.run(
        [*SEALBOX, "secrets", "get", str(store), "TOKEN", "-i", str(keys)],
        capture_output=True,
        check=True,
    ).stdout.decode()
    return proc.returncode, stderr.decode(), value


def test_a_hang_up_under_nohup_leaves_the_edit_to_finish_and_be_saved(tmp_path):
    code, stderr, value = _edit_with_signal(tmp_path, signal.SIGHUP, ignored=(signal.SIGHUP,))
    assert code == 0, stderr
    assert stderr == "changed: TOKEN\n"
    assert value == "new"


def test_a_ctrl_c_a_background_job_ignores_reaches_neither_sealbox_nor_its_editor(tmp_path):
    # `sealbox secrets edit … &` in a script: Ctrl-C goes to the whole group, editor too.
    code, stderr, value = _edit_with_signal(
        tmp_path, signal.SIGINT, ignored=(signal.SIGINT, signal.SIGQUIT), group=True
    )
    assert code == 0, stderr
    assert stderr == "changed: TOKEN\n"
    assert value == "new"


def test_a_hang_up_not_ignored_still_ends_the_edit_and_removes_the_copy(tmp_path):
    code, stderr, value = _edit_with_signal(tmp_path, signal.SIGHUP, ignored=())
    assert code == 128 + signal.SIGHUP
    assert stderr == "sealbox: error: interrupted (SIGHUP); the decrypted copy was removed\n"
    assert value == "old"
