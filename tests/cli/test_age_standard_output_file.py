"""`sealbox encrypt|decrypt` when standard output is a regular file: `-o /dev/stdout` writes
into it where it stands (as without `-o`), and a standard output that is the input file
is refused before anything is written."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

import pytest

from sealbox import age

ME = age.X25519Identity.generate()
PLAIN = os.urandom(3 * 1024 * 1024 + 7)  # several batches: read while written
SEALBOX = f"{shlex.quote(sys.executable)} -m sealbox"


def _sh(script: str, cwd) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBOX_")}
    return subprocess.run(
        ["sh", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
        start_new_session=True,
    )


@pytest.mark.parametrize("click", ["", " --"], ids=["direct", "click"])
@pytest.mark.parametrize("name", ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"])
def test_output_named_as_standard_output_is_written_where_standard_output_stands(
    tmp_path, name, click
):
    # It was "/dev/stdout already exists" (age writes), and with --force the file the
    # caller had open was replaced: what the script wrote before and after was lost.
    (tmp_path / "plain").write_bytes(PLAIN)
    (tmp_path / "key.txt").write_text(age.identity_file(ME))
    r = _sh(
        f"( echo head; {SEALBOX} encrypt -r {ME.recipient()} -o {name} plain{click}; "
        "echo trailer ) > out",
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    out = (tmp_path / "out").read_bytes()
    assert out.startswith(b"head\nage-encryption.org/v1\n")
    assert out.endswith(b"trailer\n")
    (tmp_path / "f.age").write_bytes(out[len(b"head\n") : -len(b"trailer\n")])
    assert age.decrypt((tmp_path / "f.age").read_bytes(), [ME]) == PLAIN

    r = _sh(
        f"( echo head; {SEALBOX} decrypt -i key.txt -o {name} f.age{click}; echo trailer ) > out2",
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out2").read_bytes() == b"head\n" + PLAIN + b"trailer\n"


@pytest.mark.parametrize("click", ["", " --"], ids=["direct", "click"])
@pytest.mark.parametrize(
    ("command", "redirect"),
    [
        ("encrypt -r {r} data", ">> data"),
        ("encrypt -r {r} data", "1<> data"),
        ("encrypt -r {r}", "< data >> data"),
        ("decrypt -i key.txt data", ">> data"),
        ("encrypt -r {r} -o /dev/stdout data", ">> data"),
    ],
)
def test_standard_output_that_is_the_input_file_is_refused(tmp_path, command, redirect, click):
    # The input read back what was written to it: a file that decrypts to something
    # else, exit 0 (age appends until the disk is full), or, with `1<>`, the input
    # overwritten while it was read.
    data = tmp_path / "data"
    before = age.encrypt(PLAIN, [ME.recipient()]) if command.startswith("decrypt") else PLAIN
    data.write_bytes(before)
    (tmp_path / "key.txt").write_text(age.identity_file(ME))
    args = command.format(r=ME.recipient())
    r = _sh(f"{SEALBOX} {args}{click} {redirect}", tmp_path)
    assert r.returncode == 1
    assert r.stderr.startswith(b"sealbox: error: "), r.stderr
    assert b"the input file" in r.stderr.split(b"\n")[0]
    assert data.read_bytes() == before
