"""``write_key_pair`` over an existing pair, killed (SIGKILL) while it writes FILE.pub,
leaves the old pair whole: the new FILE is not yet in place beside the old FILE.pub,
whose private key would then be gone for good (anyone encrypting to that public key
would write data no key opens).

The writer is a real process that kills itself with SIGKILL as it flushes FILE.pub's new
contents to disk (``os.fsync`` of that file), the last moment before the pair is put in
place.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CHILD = r"""
import os, signal, sys
from sealbox.keys.pair import write_key_pair

real_fsync = os.fsync

def fsync(fd):
    if os.readlink(f"/proc/self/fd/{fd}").split("/")[-1].startswith(".id.pub"):
        os.kill(os.getpid(), signal.SIGKILL)
    return real_fsync(fd)

os.fsync = fsync
folder = sys.argv[1]
write_key_pair((f"{folder}/id", b"new private"), (f"{folder}/id.pub", b"new public"), overwrite=True)
"""


def test_a_writer_killed_while_writing_the_public_key_leaves_the_old_pair(tmp_path: Path) -> None:
    (tmp_path / "id").write_bytes(b"old private")
    (tmp_path / "id.pub").write_bytes(b"old public")
    done = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path)], check=False)
    assert done.returncode == -9  # it died where it was meant to
    pair = ((tmp_path / "id").read_bytes(), (tmp_path / "id.pub").read_bytes())
    assert pair == (b"old private", b"old public")
