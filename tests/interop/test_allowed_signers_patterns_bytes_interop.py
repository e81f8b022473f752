"""Allowed-signers patterns match in sealbox what they match in the real ssh-keygen.

ssh-keygen's match_pattern_list works on bytes: ``?`` is one byte, so it does not
match ``é`` (two bytes in UTF-8) and ``??`` does; and a sub-pattern of 1023 bytes or
more ends the list with no match, whatever came before it. Read by code points, a line
would grant a principal or a namespace here that it does not grant there.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sealbox.exceptions import SignerNotAllowedError
from sealbox.keys import sshsig
from sealbox.keys.asymmetric import PrivateKey
from tests.conftest import require_tool

pytestmark = pytest.mark.interop

LONG = "x" * 1023
PRINCIPALS = ["?", "??", "é?", "?é", "*é", "al?ce", f"alice,{LONG}", f"alice,{LONG[:-1]}"]
PRINCIPALS += [f"{LONG},alice", f"*,!{LONG}", f"!alice,{LONG}", f"alice,!{LONG}"]
WHO = ["é", "ée", "éé", "alice", "alİce", "a", LONG]
NAMESPACES = ["?", "??", "fil?", "?ile", "*é*", f"file,{LONG}", f"é,{LONG[:-1]}"]
SIGNED_FOR = ["é", "file", "fílé", "fé", "file"]


@pytest.fixture(scope="module")
def key() -> PrivateKey:
    return PrivateKey.generate("ed25519")


def _ssh_keygen_verifies(signers: Path, who: str, namespace: str, data: Path, sig: Path) -> bool:
    with data.open("rb") as fh:
        p = subprocess.run(
            [
                *(require_tool("ssh-keygen"), "-Y", "verify", "-f", str(signers)),
                *("-I", who, "-n", namespace, "-s", str(sig)),
            ],
            stdin=fh,
            capture_output=True,
            check=False,
        )
    return p.returncode == 0


def _sealbox_verifies(signers: Path, who: str, namespace: str, data: Path, sig: Path) -> bool:
    try:
        sshsig.verify(
            sig.read_text(),
            data.read_bytes(),
            namespace=namespace,
            allowed_signers=sshsig.AllowedSigners.load(signers),
            principal=who,
        )
    except SignerNotAllowedError:
        return False
    return True


@pytest.mark.parametrize("field", PRINCIPALS)
def test_a_principal_pattern_matches_bytes_as_ssh_keygen_matches_them(
    tmp_path: Path, key: PrivateKey, field: str
) -> None:
    data = tmp_path / "data"
    data.write_bytes(b"signed\n")
    sig = tmp_path / "data.sig"
    sig.write_text(sshsig.sign(key, data.read_bytes(), namespace="file").armor())
    signers = tmp_path / "allowed"
    signers.write_text(f"{field} {key.public_key.openssh()}\n")
    differ = [
        (who, ours)
        for who in WHO
        if (ours := _sealbox_verifies(signers, who, "file", data, sig))
        != _ssh_keygen_verifies(signers, who, "file", data, sig)
    ]
    assert differ == []


@pytest.mark.parametrize("patterns", NAMESPACES)
def test_a_namespaces_pattern_matches_bytes_as_ssh_keygen_matches_them(
    tmp_path: Path, key: PrivateKey, patterns: str
) -> None:
    data = tmp_path / "data"
    data.write_bytes(b"signed\n")
    signers = tmp_path / "allowed"
    signers.write_text(f'alice namespaces="{patterns}" {key.public_key.openssh()}\n')
    differ = []
    for namespace in SIGNED_FOR:
        sig = tmp_path / "data.sig"
        sig.write_text(sshsig.sign(key, data.read_bytes(), namespace=namespace).armor())
        ours = _sealbox_verifies(signers, "alice", namespace, data, sig)
        if ours != _ssh_keygen_verifies(signers, "alice", namespace, data, sig):
            differ.append((namespace, ours))
    assert differ == []


def test_a_pattern_of_many_wildcards_is_refused_without_backtracking_forever(
    key: PrivateKey,
) -> None:
    # A regular expression takes exponential time on this line: verification hung.
    line = "*a" * 40 + "b," + "*" * 40 + "!" + f" {key.public_key.openssh()}\n"
    signers = sshsig.AllowedSigners.parse(line)
    with pytest.raises(SignerNotAllowedError, match="is not in allowed signers"):
        signers.check("a" * 200, key.public_key, "file")
    assert signers.check("a" * 200 + "!", key.public_key, "file").line == 1
