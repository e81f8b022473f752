"""Signals sent to a real `sealbox` run while it writes its `-o` output."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def signal_while_writing(
    argv: list[str], out: Path, signum: int, *, ignored: tuple[int, ...] = ()
) -> tuple[int, str]:
    """Run sealbox with ``ignored`` signals ignored (as a shell starts it), send ``signum``
    once its temporary output holds data, and return its exit status and stderr."""

    def start() -> None:
        for each in ignored:
            signal.signal(each, signal.SIG_IGN)

    proc = subprocess.Popen(
        [sys.executable, "-m", "sealbox", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=start,  # noqa: PLW1509 - only signal dispositions, before exec
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        temporaries = [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]
        if temporaries and temporaries[0].stat().st_size > 0:
            proc.send_signal(signum)
            break
        time.sleep(0.0005)
    else:
        proc.kill()
        _, stderr = proc.communicate()
        pytest.fail(f"the run ended before the signal could be sent: {stderr.decode()}")
    _, stderr = proc.communicate(timeout=120)
    return proc.returncode, stderr.decode()
