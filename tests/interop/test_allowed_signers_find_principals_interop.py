"""principals_for answers what the real ``ssh-keygen -Y find-principals`` answers.

ssh-keygen takes the lines holding the signature's key that are valid at the verify
time (valid-after/valid-before; namespaces are not looked at) and prints the principals
of the first, one per line. principals_for lists the principals field of each such line
in file order: its first is ssh-keygen's answer.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sealbox.keys import sshsig
from sealbox.keys.asymmetric import PrivateKey
from tests.conftest import require_tool

pytestmark = pytest.mark.interop

# (options, principals) of each line, all with the signing key.
LINES = [
    ('valid-before="20200101Z"', "expired@x,old@x"),
    ('valid-after="20990101Z"', "future@x"),
    ('namespaces="git"', "git@x"),
    ('valid-after="20200101Z",valid-before="20300101Z"', "now@x,*@y"),
    ("", "always@x"),
]

# What principals_for lists at each time; None: now, for ssh-keygen too.
LISTED = {
    "20190101000000Z": ["expired@x,old@x", "git@x", "always@x"],
    "20250615120000Z": ["git@x", "now@x,*@y", "always@x"],
    "20991231000000Z": ["future@x", "git@x", "always@x"],
}
VERIFY_TIMES = [*LISTED, None]


@pytest.fixture(scope="module")
def signed(tmp_path_factory) -> tuple[Path, PrivateKey]:
    folder = tmp_path_factory.mktemp("find")
    key, other = PrivateKey.generate("ed25519"), PrivateKey.generate("ed25519")
    (folder / "data.sig").write_text(sshsig.sign(key, b"signed\n", namespace="file").armor())
    lines = [f"nobody@x {other.public_key.openssh()}\n"]
    lines += [f"{who} {options} {key.public_key.openssh()}\n" for options, who in LINES]
    (folder / "allowed").write_text("".join(lines))
    return folder, key


@pytest.mark.parametrize("verify_time", VERIFY_TIMES)
def test_principals_for_lists_first_what_ssh_keygen_find_principals_prints(
    signed: tuple[Path, PrivateKey], verify_time: str | None
) -> None:
    ssh_keygen = require_tool("ssh-keygen")
    folder, key = signed
    at = [] if verify_time is None else ["-O", f"verify-time={verify_time}"]
    found = subprocess.run(
        [
            *(ssh_keygen, "-Y", "find-principals", "-f", str(folder / "allowed")),
            *at,
            *("-s", str(folder / "data.sig")),
        ],
        capture_output=True,
        check=False,
        text=True,
    )
    now = None
    if verify_time is not None:
        now = datetime.strptime(verify_time, "%Y%m%d%H%M%SZ").replace(tzinfo=UTC)
    ours = sshsig.AllowedSigners.load(folder / "allowed").principals_for(key.public_key, now=now)
    theirs = found.stdout.splitlines() if found.returncode == 0 else None
    assert (ours[0].split(",") if ours else None) == theirs, found.stderr
    # Every line valid then is listed, in file order (namespaces not looked at).
    if verify_time is not None:
        assert ours == LISTED[verify_time]
