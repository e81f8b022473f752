"""valid-after= and valid-before= grant in sealbox what they grant in the real ssh-keygen.

ssh-keygen reads a time as ``YYYYMMDD[HHMM[SS]]`` with a ``Z`` or ``UTC`` suffix (any
case) for UTC, rolls a day past the month's end into the next month (strptime, then
mktime/timegm), and refuses a line whose time is the epoch or before it. A time read
otherwise grants a signer in one and not in the other.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


# (time without a zone, the moment both tools judge at), in Europe/Berlin: ssh-keygen
# reads a time without Z through mktime with tm_isdst = 0, i.e. as standard time
# (CET, UTC+1) even on a summer day, in the spring gap and in the autumn overlap.
BERLIN = [
    ("20250701120000", "20250701095959Z"),
    ("20250701120000", "20250701103000Z"),  # after 12:00 CEST, before 12:00 CET
    ("20250701120000", "20250701110001Z"),
    ("202507011200", "20250701103000Z"),
    ("20250701", "20250630223000Z"),  # midnight CEST is 22:00Z, CET 23:00Z
    ("20250115120000", "20250115103000Z"),
    ("20250115120000", "20250115113000Z"),
    ("20250330023000", "20250330010000Z"),  # 02:30 does not exist that day
    ("20250330023000", "20250330020000Z"),
    ("20251026023000", "20251026010000Z"),  # 02:30 happens twice that day
    ("20251026023000", "20251026020000Z"),
]

_SEALBOX_JUDGES = """
import json, sys
from datetime import UTC, datetime
from sealbox.exceptions import SignerNotAllowedError
from sealbox.keys import sshsig
from sealbox.keys.asymmetric import PublicKey

key = PublicKey.from_bytes(sys.argv[1])
verdicts = []
for path, when in json.loads(sys.argv[2]):
    now = datetime.strptime(when, "%Y%m%d%H%M%SZ").replace(tzinfo=UTC)
    try:
        sshsig.AllowedSigners.load(path).check("me@x", key, "file", now=now)
        verdicts.append(True)
    except SignerNotAllowedError:
        verdicts.append(False)
print(json.dumps(verdicts))
"""


@pytest.mark.parametrize("option", ["valid-after", "valid-before"])
def test_a_local_time_in_a_summer_time_zone_grants_in_sealbox_what_it_grants_in_ssh_keygen(
    signed: tuple[Path, Path, PrivateKey], option: str
) -> None:
    ssh_keygen = require_tool("ssh-keygen")
    folder, data, key = signed
    env = {**os.environ, "TZ": "Europe/Berlin"}
    cases, theirs = [], []
    for number, (when, verify_time) in enumerate(BERLIN):
        signers_file = folder / f"berlin-{option}-{number}"
        signers_file.write_text(f'me@x {option}="{when}" {key.public_key.openssh()}\n')
        cases.append((str(signers_file), verify_time))
        with data.open("rb") as fh:
            theirs.append(
                subprocess.run(
                    [
                        *(ssh_keygen, "-Y", "verify", "-f", str(signers_file), "-I", "me@x"),
                        *("-n", "file", "-O", f"verify-time={verify_time}"),
                        *("-s", f"{data}.sig"),
                    ],
                    stdin=fh,
                    capture_output=True,
                    check=False,
                    env=env,
                ).returncode
                == 0
            )
    ours = subprocess.run(
        [sys.executable, "-c", _SEALBOX_JUDGES, key.public_key.openssh(), json.dumps(cases)],
        capture_output=True,
        check=True,
        env=env,
        text=True,
    )
    differ = [
        (when, verify_time, mine)
        for (when, verify_time), mine, their in zip(
            BERLIN, json.loads(ours.stdout), theirs, strict=True
        )
        if mine != their
    ]
    assert differ == []
