"""`sealbox hash-password` / `verify-password` at a terminal: what is typed there that is
no password (bytes that are not UTF-8, Ctrl-D) is a plain error, never an internal one."""

from __future__ import annotations

import os
import pty
import select
import sys
import time


def _typed_at_the_prompt(args: list[str], typed: bytes) -> tuple[int, bytes]:
    """Run sealbox on a pseudo-terminal and type ``typed`` at its first prompt."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: its stdin, stdout and /dev/tty are the terminal
        os.execv(sys.executable, [sys.executable, "-m", "sealbox", *args])
    output, answered = b"", False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
        if not answered and output.rstrip().endswith(b"Password:"):
            os.write(fd, typed)
            answered = True
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), output


def test_hash_password_refuses_non_utf8_typed_at_the_prompt_plainly():
    code, output = _typed_at_the_prompt(["hash-password"], b"ab\xffcd\n")
    assert code == 1, output
    assert b"sealbox: error: the password typed is not UTF-8 text" in output
    assert b"internal error" not in output


def test_verify_password_refuses_non_utf8_typed_at_the_prompt_plainly(tmp_path):
    stored = tmp_path / "hash.txt"
    stored.write_text("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$" + "A" * 43 + "\n")
    code, output = _typed_at_the_prompt(
        ["verify-password", "--hash-file", str(stored), "--profile", "test"], b"\xff\n"
    )
    assert code == 1, output
    assert b"sealbox: error: the password typed is not UTF-8 text" in output
    assert b"internal error" not in output


def test_end_of_input_at_the_password_prompt_is_a_plain_error():
    code, output = _typed_at_the_prompt(["hash-password"], b"\x04")
    assert code == 1, output
    assert b"sealbox: error: no password typed (end of input at the prompt)" in output
    assert b"internal error" not in output
