"""An interrupted `sealbox encrypt`/`decrypt` between two files leaves nothing behind.

The real program runs in a subprocess; the signal arrives while the payload is
being written (the temporary output has data), when the command's second worker
(a forked process) is running. Afterwards: exit 130, `sealbox: error: interrupted`,
no output, no temporary file, and no process of the run left.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from sealbox import age
from tests.cli._signals import signal_while_writing

ME = age.X25519Identity.generate()
# Large enough that the run is still writing when the signal lands, on a busy machine too
# (the run is interrupted early: the size costs the decrypt case's setup only).
SIZE = 768 * 1024 * 1024


def _leftovers(marker: str) -> list[int]:
    """Processes whose command line names ``marker`` (the run's own output path)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                if marker.encode() in fh.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc to find leftover processes")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("command", ["encrypt", "decrypt"])
def test_an_interrupted_run_leaves_nothing(tmp_path: Path, command: str, signum: int):
    plain = tmp_path / "plain"
    with open(plain, "wb") as fh:
        fh.truncate(SIZE)  # sparse: quick to make, read as zeros
    sealed = tmp_path / "plain.age"
    if command == "encrypt":
        out = tmp_path / "out.age"
        argv = ["encrypt", "-r", str(ME.recipient()), "-o", str(out), str(plain)]
    else:
        age.encrypt_file(plain, sealed, [ME.recipient()])
        keys = tmp_path / "keys.txt"
        keys.write_text(ME.expose_secret() + "\n")
        out = tmp_path / "out"
        argv = ["decrypt", "-i", str(keys), "-o", str(out), str(sealed)]
    code, stderr = signal_while_writing(argv, out, signum)
    # 128 + the signal's number, as a shell reports a process the signal ended.
    assert code == 128 + signum, stderr
    word = "interrupted" if signum == signal.SIGINT else "terminated"
    assert stderr == f"sealbox: error: {word}\n"
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in (plain, sealed, tmp_path / "keys.txt") if p.exists()
    )
    assert _leftovers(str(out)) == []


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize(
    ("signum", "raised"),
    [(signal.SIGTERM, "Terminated"), (signal.SIGINT, "KeyboardInterrupt")],
)
def test_a_stop_python_dropped_in_a_finalizer_is_raised_again_before_the_output_is_kept(
    signum: int, raised: str
):
    # A SIGTERM whose handler ran inside an import's module-lock callback was printed as
    # "Exception ignored" and lost: the run finished and put its output in place.
    from sealbox.cli._encrypt_decrypt import _terminate_as_interrupt
    from sealbox.cli._io import Terminated

    class Finalized:
        def __del__(self) -> None:
            stop.handle(signum, None)

    expected = Terminated if raised == "Terminated" else KeyboardInterrupt
    with _terminate_as_interrupt() as stop:
        Finalized()  # its __del__ raises, and Python drops it
        assert stop.signum == signum
        with pytest.raises(expected):
            stop.check()
    assert signal.getsignal(signal.SIGTERM) is not stop.handle


def test_the_signals_reach_the_run_while_it_holds_them():
    from sealbox.cli._encrypt_decrypt import _terminate_as_interrupt
    from sealbox.cli._io import Terminated

    with pytest.raises(Terminated), _terminate_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler interrupts this
