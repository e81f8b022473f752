"""Ctrl-C and SIGTERM reaching a command that replaces two files as a pair."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests._race import clean_env
from tests.conftest import run_sealbox

# Runs sealbox with the signal sent to itself at the moment the second file of a pair
# is about to be renamed into place: the first one is already renamed. The audit hook
# only chooses the moment; the signal and its handling are the real ones.
_SIGNAL_BETWEEN_RENAMES = """
import os, sys
from sealbox.cli import main
target, signum = sys.argv[1], int(sys.argv[2])
renames = []
def hook(event, args):
    if event == "os.rename" and str(args[1]) == target and not renames:
        renames.append(args)
        os.kill(os.getpid(), signum)
sys.addaudithook(hook)
sys.exit(main(sys.argv[3:]))
"""


def _interrupt_between_renames(
    target: Path, signum: int, args: list[object]
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-c", _SIGNAL_BETWEEN_RENAMES, str(target), str(signum), *map(str, args)],
        capture_output=True,
        env=clean_env(),
        timeout=120,
        check=False,
    )


def _public_pem(key: object) -> bytes:
    return key.public_key().public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _pair_matches(prefix: Path) -> bool:
    cert = x509.load_pem_x509_certificate(prefix.with_suffix(".crt").read_bytes())
    key = serialization.load_pem_private_key(prefix.with_suffix(".key").read_bytes(), None)
    return _public_pem(cert) == _public_pem(key)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_between_the_renames_of_a_new_key_and_its_certificate_leaves_a_matching_pair(
    tmp_path: Path, signum: int, code: int
) -> None:
    ca, prefix = tmp_path / "ca", tmp_path / "server"
    assert run_sealbox(["ca", "init", ca]).returncode == 0
    assert (
        run_sealbox(["ca", "issue", "server", ca, "--san", "a.test", "-o", prefix]).returncode == 0
    )
    old = (prefix.with_suffix(".crt").read_bytes(), prefix.with_suffix(".key").read_bytes())
    r = _interrupt_between_renames(
        prefix.with_suffix(".crt"), signum, ["ca", "renew", ca, prefix, "--now", "--new-key"]
    )
    assert r.returncode in (code, -signum), r.stderr
    assert b"Traceback" not in r.stderr
    # Held back until the pair was written: the new pair, whole, never a mix.
    assert _pair_matches(prefix)
    assert prefix.with_suffix(".crt").read_bytes() != old[0]
    assert prefix.with_suffix(".key").read_bytes() != old[1]
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert run_sealbox(["ca", "renew", ca, prefix, "--now"]).returncode == 0


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_between_the_renames_of_a_new_ca_leaves_a_whole_ca(
    tmp_path: Path, signum: int
) -> None:
    ca = tmp_path / "ca"
    r = _interrupt_between_renames(ca / "ca.crt", signum, ["ca", "init", ca])
    assert r.returncode in (128 + signum, -signum), r.stderr
    assert b"Traceback" not in r.stderr
    assert sorted(p.name for p in ca.iterdir() if not p.name.endswith(".lock")) == [
        "ca.crt",
        "ca.key",
    ]
    r = run_sealbox(["ca", "issue", "server", ca, "--san", "a.test", "-o", tmp_path / "server"])
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["keyring", "rotate"],
        ["jwt", "keyset", "rotate"],
    ],
)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_as_a_rewritten_file_is_renamed_leaves_no_temporary_file(
    tmp_path: Path, args: list[str], signum: int
) -> None:
    path = tmp_path / "keys"
    env = clean_env({"SEALBOX_PASSPHRASE": "pass"})
    create = (
        [args[0], "create", path] if args[0] == "keyring" else ["jwt", "keyset", "create", path]
    )
    assert run_sealbox(create, env=env).returncode == 0
    r = subprocess.run(
        [sys.executable, "-c", _SIGNAL_BETWEEN_RENAMES, str(path), str(signum), *args, str(path)],
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert r.returncode in (128 + signum, -signum), r.stderr
    assert b"Traceback" not in r.stderr
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    listing = [args[0], "list", path] if args[0] == "keyring" else ["jwt", "keyset", "list", path]
    assert run_sealbox(listing, env=env).returncode == 0


def _wait_in_the_open_of_a_fifo(proc: subprocess.Popen[bytes]) -> None:
    """Return once ``proc`` waits in the open() of a FIFO for a reader (Linux names that
    wait in /proc); elsewhere, after a second, by when it is there."""
    wchan = Path(f"/proc/{proc.pid}/wchan")
    if not wchan.exists():
        time.sleep(1.0)
        return
    deadline = time.monotonic() + 30
    while wchan.read_text() != "wait_for_partner":
        assert proc.poll() is None, "the writer ended before it opened the FIFO"
        assert time.monotonic() < deadline, "the writer never waited in the open() of the FIFO"
        time.sleep(0.01)


def test_a_write_into_a_fifo_nobody_reads_stays_open_to_ctrl_c(tmp_path: Path) -> None:
    # Signals are held while a file is replaced, but a FIFO is written into directly and
    # blocks until a reader comes: held there, Ctrl-C could never end the wait.
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    code = (
        "from sealbox._util.files import atomic_write; import sys; atomic_write(sys.argv[1], b'x')"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(fifo)], stderr=subprocess.PIPE)
    try:
        _wait_in_the_open_of_a_fifo(proc)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode != 0
    assert b"KeyboardInterrupt" in stderr
