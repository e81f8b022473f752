"""A principals field grants in sealbox whom it grants in the real ssh-keygen.

ssh-keygen cuts the field at the first blank or double quote; at a quote it drops
it and takes everything up to the next quote (blanks and commas included) as the
pattern-list, so ``a"b c"`` lists ``ab c`` and ``"a b",c`` lists only ``a b`` (then
``,c`` is read as options: the line is malformed).
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

FIELDS = ['a"b c"', '"a b",c', '"a b"c', '"a b"', '"a,b"', "alice,bob", '"al"ice', '"*"', 'x"y"']
WHO = ['a"b c"', "ab c", "a b", "c", '"a b"', "a", "b", "bob", "al", 'al"ice', "x", "xy", 'x"y"']


@pytest.fixture(scope="module")
def signed(tmp_path_factory) -> tuple[Path, Path, PrivateKey]:
    folder = tmp_path_factory.mktemp("principals")
    key = PrivateKey.generate("ed25519")
    data = folder / "data"
    data.write_bytes(b"signed\n")
    (folder / "data.sig").write_text(sshsig.sign(key, data.read_bytes(), namespace="file").armor())
    return folder, data, key


@pytest.mark.parametrize("field", FIELDS)
def test_a_principals_field_grants_in_sealbox_whom_it_grants_in_ssh_keygen(
    signed: tuple[Path, Path, PrivateKey], field: str
) -> None:
    ssh_keygen = require_tool("ssh-keygen")
    folder, data, key = signed
    signers_file = folder / "allowed"
    signers_file.write_text(f"{field} {key.public_key.openssh()}\n")
    signers = sshsig.AllowedSigners.load(signers_file)
    differ = []
    for who in WHO:
        with data.open("rb") as fh:
            theirs = subprocess.run(
                [
                    *(ssh_keygen, "-Y", "verify", "-f", str(signers_file)),
                    *("-I", who, "-n", "file", "-s", f"{data}.sig"),
                ],
                stdin=fh,
                capture_output=True,
                check=False,
            ).returncode
        try:
            signers.check(who, key.public_key, "file")
            ours = True
        except SignerNotAllowedError:
            ours = False
        if ours != (theirs == 0):
            differ.append((who, ours))
    assert differ == []
