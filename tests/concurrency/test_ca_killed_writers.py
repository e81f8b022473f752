"""A ``sealbox ca`` command SIGKILLed between the two renames of a key and its certificate.

Signals that can be held (Ctrl-C, SIGTERM) wait until the pair is whole; SIGKILL (or a
power cut) cannot be held, and leaves the first file renamed into place without the
second. These tests kill real ``sealbox`` processes there (an audit hook in the test's
own program chooses the moment: the rename of the second file; the kill is a real
SIGKILL) and check that the next command says what to do, and that doing it works.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests._race import clean_env
from tests.conftest import run_sealbox

# Runs sealbox and SIGKILLs it as it is about to rename its temporary file to TARGET.
_KILL_BEFORE_RENAME_TO = """
import os, signal, sys
from sealbox.cli import main
target = sys.argv[1]
def hook(event, args):
    if event == "os.rename" and str(args[1]) == target:
        os.kill(os.getpid(), signal.SIGKILL)
sys.addaudithook(hook)
sys.exit(main(sys.argv[2:]))
"""


def _killed_before_renaming(target: Path, args: list[object]) -> None:
    r = subprocess.run(
        [sys.executable, "-c", _KILL_BEFORE_RENAME_TO, str(target), *map(str, args)],
        capture_output=True,
        env=clean_env(),
        timeout=120,
        check=False,
    )
    assert r.returncode == -signal.SIGKILL, r.stderr


def _err(r: subprocess.CompletedProcess[bytes]) -> str:
    return r.stderr.decode()


def _public(pem_owner: object) -> bytes:
    return pem_owner.public_key().public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _pair_matches(prefix: Path) -> bool:
    cert = x509.load_pem_x509_certificate(prefix.with_suffix(".crt").read_bytes())
    key = serialization.load_pem_private_key(prefix.with_suffix(".key").read_bytes(), None)
    return _public(cert) == _public(key)


def test_ca_init_killed_between_its_renames_is_named_and_the_hint_recovers(
    tmp_path: Path,
) -> None:
    ca = tmp_path / "ca"
    _killed_before_renaming(ca / "ca.crt", ["ca", "init", ca])
    assert (ca / "ca.key").exists()
    assert not (ca / "ca.crt").exists()
    key = ca / "ca.key"
    hint = (
        f"sealbox: hint: if 'sealbox ca init' was interrupted, no certificate was issued "
        f"with this key: remove {key} and run 'sealbox ca init {ca}' again; if ca.crt was "
        "deleted, put it back (it is the last certificate of every PREFIX.crt the CA issued)\n"
    )
    again = run_sealbox(["ca", "init", ca])
    assert again.returncode == 1
    assert _err(again) == (
        f"sealbox: error: {ca} holds a CA key without its certificate (ca.crt is missing)\n" + hint
    )
    assert key.exists()  # a key that may have signed is never removed by sealbox
    issue = run_sealbox(["ca", "issue", "server", ca, "--san", "a.test", "-o", tmp_path / "s"])
    assert issue.returncode == 1
    assert _err(issue).endswith(hint)
    # What the hint says to do works.
    key.unlink()
    made = run_sealbox(["ca", "init", ca])
    assert made.returncode == 0, _err(made)
    assert [p.name for p in ca.iterdir() if p.name.endswith(".tmp")] == []
    issue = run_sealbox(["ca", "issue", "server", ca, "--san", "a.test", "-o", tmp_path / "s"])
    assert issue.returncode == 0, _err(issue)


def test_a_lone_ca_certificate_is_still_a_ca_that_init_will_not_replace(tmp_path: Path) -> None:
    # The key kept offline, the certificate in use as the trust anchor: never replaced.
    ca = tmp_path / "ca"
    assert run_sealbox(["ca", "init", ca]).returncode == 0
    (ca / "ca.key").unlink()
    before = (ca / "ca.crt").read_bytes()
    again = run_sealbox(["ca", "init", ca])
    assert again.returncode == 1
    assert _err(again).startswith(f"sealbox: error: {ca} already holds a CA (ca.crt exists)\n")
    assert (ca / "ca.crt").read_bytes() == before


@pytest.mark.parametrize(
    "replace",
    [
        ["ca", "renew", "{ca}", "{prefix}", "--now", "--new-key"],
        ["ca", "issue", "server", "{ca}", "--san", "a.test", "-o", "{prefix}", "--force"],
    ],
    ids=["renew-new-key", "issue-force"],
)
def test_a_pair_replacement_killed_between_its_renames_is_named_by_renew_and_the_hint_recovers(
    tmp_path: Path, replace: list[str]
) -> None:
    ca, prefix = tmp_path / "ca", tmp_path / "server"
    assert run_sealbox(["ca", "init", ca]).returncode == 0
    made = run_sealbox(["ca", "issue", "server", ca, "--san", "a.test", "-o", prefix])
    assert made.returncode == 0
    args = [a.format(ca=ca, prefix=prefix) for a in replace]
    _killed_before_renaming(prefix.with_suffix(".crt"), args)
    assert not _pair_matches(prefix)  # the new key beside the old certificate
    renew = run_sealbox(["ca", "renew", ca, prefix, "--now"])
    assert renew.returncode == 1
    assert _err(renew) == (
        f"sealbox: error: key file {prefix}.key does not match the certificate in "
        f"certificate file {prefix}.crt\n"
        "sealbox: hint: if replacing both was interrupted, give the certificate a new key: "
        f"'sealbox ca renew DIR {prefix} --now --new-key' (its pin changes)\n"
    )
    fixed = run_sealbox(["ca", "renew", ca, prefix, "--now", "--new-key"])
    assert fixed.returncode == 0, _err(fixed)
    assert _pair_matches(prefix)


def test_ca_init_killed_at_any_moment_leaves_a_folder_the_next_init_handles(
    tmp_path: Path,
) -> None:
    # Kills at spread-out moments of a real `sealbox ca init`: whatever it left, the next
    # one makes a whole CA, refuses one that is whole, or names the lone key (and then
    # removing it, as the hint says, lets it make one).
    for attempt in range(12):
        ca = tmp_path / f"ca{attempt}"
        proc = subprocess.Popen(
            [sys.executable, "-m", "sealbox", "ca", "init", str(ca)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=clean_env(),
        )
        try:  # one that ends sooner is not waited for further
            proc.wait(timeout=0.05 * attempt)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
        again = run_sealbox(["ca", "init", ca])
        if again.returncode == 1 and "without its certificate" in _err(again):
            (ca / "ca.key").unlink()
            again = run_sealbox(["ca", "init", ca])
        if again.returncode == 1:
            assert "already holds a CA (ca.crt exists)" in _err(again)
        else:
            assert again.returncode == 0, _err(again)
        assert _pair_matches(ca / "ca")
        issue = run_sealbox(
            ["ca", "issue", "server", ca, "--san", "a.test", "-o", tmp_path / f"s{attempt}"]
        )
        assert issue.returncode == 0, _err(issue)
