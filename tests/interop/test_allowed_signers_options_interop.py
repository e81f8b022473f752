"""An allowed-signers line's options grant in sealbox what they grant in the real ssh-keygen.

ssh-keygen ends the options at the first blank outside double quotes, a ``\\"`` never
opening or closing a quote; reads an option name in any case, with ``=`` right after it
and the value in double quotes, ``\\"`` inside it a quote and any other backslash
itself; skips empty options between commas but not a trailing comma; refuses an option
given twice (``cert-authority`` aside) and a ``valid-before`` not after ``valid-after``;
and reads no further than the key, so a quote in the comment is nobody's business. A
line read otherwise grants a signer in one and not in the other.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sealbox.exceptions import SignerNotAllowedError
from sealbox.keys import sshsig
from sealbox.keys.asymmetric import PrivateKey
from tests.conftest import require_tool

pytestmark = pytest.mark.interop

# Both tools judge at this moment: ssh-keygen through -O verify-time.
VERIFY_TIME = "20250615120000Z"
NOW = datetime(2025, 6, 15, 12, 0, 0, tzinfo=UTC)

# (options field, comment after the key)
LINES = [
    ("", ""),
    ('namespaces="file"', ""),
    ('namespaces="git,fi\\"le,file"', ""),  # \" is a quote inside the value
    ('namespaces="fi\\"le"', ""),
    ('namespaces="\\"x\\",file"', ""),
    ('namespaces="a\\" b,file"', ""),  # the escaped quote does not end the quoting
    ('namespaces="x\\y,file"', ""),  # any other backslash is itself
    ('namespaces="fil\\e"', ""),
    ('namespaces="file\\\\"', ""),  # \\ is no escape: \" then runs to the end
    ('namespaces="file\\"', ""),
    ('namespaces="file\\"', 'a"b'),
    ('namespaces=\\"file\\"', ""),  # no opening quote
    ('namespaces=\\"file"', ""),
    ('namespaces=""', ""),
    ('namespaces="file', ""),
    ('namespaces=file"', ""),
    ("namespaces=file", ""),
    ('NAMESPACES="file"', ""),
    ('NameSpaces="file"', ""),
    ('namespaces ="file"', ""),
    ('namespaces= "file"', ""),
    ('namespaces = "file"', ""),
    ('namespaces=="file"', ""),
    ('namespaces="file",namespaces="file"', ""),
    ('namespaces="git",namespaces="file"', ""),
    ('namespaces="file"x', ""),
    ('namespaces="file",', ""),
    ('namespaces="file",,valid-after="20200101Z"', ""),  # an empty option is skipped
    (',namespaces="file"', ""),
    (",", ""),
    ('namespaces="a b,file"', ""),
    ('namespaces="file",cert-authority', ""),
    ("cert-authority,cert-authority", ""),
    ("CERT-AUTHORITY", ""),
    ("cert-authorityx", ""),
    ('cert-authority="x"', ""),
    ('unknown="x"', ""),
    ('valid-after="20200101Z"', ""),
    ('VALID-AFTER="20200101Z",Valid-Before="20990101Z"', ""),
    ("valid-after=20200101Z", ""),
    ('valid-after="2020\\"0101Z"', ""),
    ('valid-after="20200101Z",valid-after="20200101Z"', ""),
    ('valid-after="20250615120000Z",valid-before="20250615120000Z"', ""),  # before <= after
    ('valid-after="20250615115959Z",valid-before="20250615120000Z"', ""),
    ('valid-before="20250615120000Z",valid-after="20250615120001Z"', ""),
    ("", 'it"s me'),  # a quote in the comment
    ('namespaces="file"', 'it"s "me'),
    ("", "a\\"),
]


@pytest.fixture(scope="module")
def signed(tmp_path_factory) -> tuple[Path, Path, PrivateKey]:
    folder = tmp_path_factory.mktemp("options")
    key = PrivateKey.generate("ed25519")
    data = folder / "data"
    data.write_bytes(b"signed\n")
    (folder / "data.sig").write_text(sshsig.sign(key, data.read_bytes(), namespace="file").armor())
    return folder, data, key


@pytest.mark.parametrize(("options", "comment"), LINES)
def test_option_values_grant_in_sealbox_what_they_grant_in_ssh_keygen(
    signed: tuple[Path, Path, PrivateKey], options: str, comment: str
) -> None:
    ssh_keygen = require_tool("ssh-keygen")
    folder, data, key = signed
    signers_file = folder / "allowed"
    signers_file.write_text(f"me@x {options} {key.public_key.openssh()} {comment}\n")
    with data.open("rb") as fh:
        verify = subprocess.run(
            [
                *(ssh_keygen, "-Y", "verify", "-f", str(signers_file), "-I", "me@x"),
                *("-n", "file", "-O", f"verify-time={VERIFY_TIME}", "-s", f"{data}.sig"),
            ],
            stdin=fh,
            capture_output=True,
            check=False,
        )
    find = subprocess.run(
        [
            *(ssh_keygen, "-Y", "find-principals", "-f", str(signers_file)),
            *("-O", f"verify-time={VERIFY_TIME}", "-s", f"{data}.sig"),
        ],
        capture_output=True,
        check=False,
    )
    signers = sshsig.AllowedSigners.load(signers_file)
    try:
        signers.check("me@x", key.public_key, "file", now=NOW)
        granted = True
    except SignerNotAllowedError:
        granted = False
    ours = (granted, signers.principals_for(key.public_key, now=NOW) == ["me@x"])
    theirs = (verify.returncode == 0, find.returncode == 0 and find.stdout == b"me@x\n")
    assert ours == theirs, (verify.stderr, find.stderr, signers.skipped)
