"""valid-after= and valid-before= grant in sealbox what they grant in the real ssh-keygen.

ssh-keygen reads a time as ``YYYYMMDD[HHMM[SS]]`` with a ``Z`` or ``UTC`` suffix (any
case) for UTC, rolls a day past the month's end into the next month (strptime, then
mktime/timegm), and refuses a line whose time is the epoch or before it. A time read
otherwise grants a signer in one and not in the other.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from sealbox.exceptions import SignerNotAllowedError
from sealbox.keys import sshsig
from sealbox.keys.asymmetric import PrivateKey
from tests.conftest import require_tool

pytestmark = pytest.mark.interop

TIMES = [
    "20200101",  # local time
    "20200101Z",
    "20200101z",
    "20200101UTC",  # ssh-keygen's other UTC suffix
    "202001011200utc",
    "20990101000000UTC",
    "20990230Z",  # 2 March 2099 to ssh-keygen
    "20250230",  # 2 March 2025
    "20990231",
    "19700101Z",  # the epoch: ssh-keygen's "invalid time"
    "19700101UTC",
    "19691231Z",  # before it
    "20201301",
    "20200100",
    "20200132Z",
    "202001012400",
    "202001012360Z",
    "20200101235960Z",  # a leap second, as strptime takes it
    "2020010Z",
    "UTC",
    "Z",
]


@pytest.fixture(scope="module")
def signed(tmp_path_factory) -> tuple[Path, Path, PrivateKey]:
    folder = tmp_path_factory.mktemp("times")
    key = PrivateKey.generate("ed25519")
    data = folder / "data"
    data.write_bytes(b"signed\n")
    (folder / "data.sig").write_text(sshsig.sign(key, data.read_bytes(), namespace="file").armor())
    return folder, data, key


@pytest.mark.parametrize("option", ["valid-after", "valid-before"])
@pytest.mark.parametrize("when", TIMES)
def test_a_time_grants_in_sealbox_what_it_grants_in_ssh_keygen(
    signed: tuple[Path, Path, PrivateKey], option: str, when: str
) -> None:
    ssh_keygen = require_tool("ssh-keygen")
    folder, data, key = signed
    signers_file = folder / f"allowed-{option}-{when}"
    signers_file.write_text(f'me@x {option}="{when}" {key.public_key.openssh()}\n')
    with data.open("rb") as fh:
        theirs = subprocess.run(
            [
                *(ssh_keygen, "-Y", "verify", "-f", str(signers_file)),
                *("-I", "me@x", "-n", "file", "-s", f"{data}.sig"),
            ],
            stdin=fh,
            capture_output=True,
            check=False,
            env={**os.environ, "TZ": "UTC"},
        )
    signers = sshsig.AllowedSigners.load(signers_file)
    try:
        signers.check("me@x", key.public_key, "file")
        ours = True
    except SignerNotAllowedError:
        ours = False
    assert ours == (theirs.returncode == 0), (theirs.stderr, signers.skipped)
