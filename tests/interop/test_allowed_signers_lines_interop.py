"""An allowed-signers file's lines are the lines the real ssh-keygen reads.

ssh-keygen reads a line up to ``\\n`` (getline), as C strings (a NUL ends it), skips
blanks (space, tab) before it, ends the principals at a blank, ``\\r``, ``\\n`` or a
double quote (strdelimw), and decodes the key's base64 skipping C whitespace inside it
(b64_pton). No other character ends a line: a form feed, ``\\x1c``-``\\x1e``, NEL or
U+2028 inside a comment or a principals field is part of that line. Split anywhere else,
a comment or a principals field could hold a second line that grants here a signer
ssh-keygen never sees.
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

# Characters str.splitlines() or str.strip() treat as line ends or blanks, and some
# ssh-keygen treats so: "\r" ends the principals, "\x0b" and "\x0c" are skipped in base64.
SEPARATORS = ["\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\u2028", "\u2029"]
SEPARATORS += ["\xa0", "\u3000", "\0"]

# {A} and {B}: the public key lines of alice's and mallory's keys ({B<} and {>B}: the
# halves of B's); {s}: the separator.
TEMPLATES = [
    "alice {A} alice's key{s}mallory {B}\n",  # a second "line" in a comment
    "alice{s}mallory {B}\n",  # in the principals field
    "{s}mallory {B}\n",  # before the line
    "mallory {B}{s}\n",  # after the key
    "mallory{s}{B}\n",  # between the principals and the key
    "mallory {B} x{s}\n",  # in the comment
    '{s}#x\nmallory namespaces="file"{s}{B}\n',
    "mallory {B<}{s}{>B}\n",  # inside the base64
]

FILES = [template.replace("{s}", sep) for template in TEMPLATES for sep in SEPARATORS]
FILES += [
    "mallory {B}\r\n# a comment\r\n\r\nalice {A} alice\r\n",  # CRLF line ends
    "mallory {B}",  # no final line end
    "\t  mallory {B}\n",
    "  # mallory {B}\n",
    '"mallory"\r{B}\n',
    "mallory\r\r \t{B}\n",
    "mallory\n{B}\n",
    "mallory {B}=\n",  # not canonical base64
    "mallory {B}==\n",
    "mallory {B}!\n",
]

WHO = [("alice", "A"), ("mallory", "B")]


@pytest.fixture(scope="module")
def signed(tmp_path_factory) -> tuple[Path, Path, dict[str, PrivateKey]]:
    folder = tmp_path_factory.mktemp("lines")
    keys = {"A": PrivateKey.generate("ed25519"), "B": PrivateKey.generate("ed25519")}
    data = folder / "data"
    data.write_bytes(b"signed\n")
    for name, key in keys.items():
        signature = sshsig.sign(key, data.read_bytes(), namespace="file")
        (folder / f"data.{name}.sig").write_text(signature.armor())
    return folder, data, keys


@pytest.mark.parametrize("content", FILES)
def test_a_file_grants_in_sealbox_whom_its_lines_grant_in_ssh_keygen(
    signed: tuple[Path, Path, dict[str, PrivateKey]], content: str
) -> None:
    ssh_keygen = require_tool("ssh-keygen")
    folder, data, keys = signed
    signers_file = folder / "allowed"
    text = content.replace("{A}", keys["A"].public_key.openssh())
    mallory = keys["B"].public_key.openssh()
    text = text.replace("{B<}", mallory[:40]).replace("{>B}", mallory[40:])
    signers_file.write_bytes(text.replace("{B}", mallory).encode())
    signers = sshsig.AllowedSigners.load(signers_file)
    ours, theirs = [], []
    for who, name in WHO:
        with data.open("rb") as fh:
            theirs.append(
                subprocess.run(
                    [
                        *(ssh_keygen, "-Y", "verify", "-f", str(signers_file), "-I", who),
                        *("-n", "file", "-s", f"{data}.{name}.sig"),
                    ],
                    stdin=fh,
                    capture_output=True,
                    check=False,
                ).returncode
                == 0
            )
        try:
            signers.check(who, keys[name].public_key, "file")
            ours.append(True)
        except SignerNotAllowedError:
            ours.append(False)
    assert ours == theirs, (signers.entries, signers.skipped)
