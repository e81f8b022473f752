"""What `sealbox secrets run` says when the program it was to run did not start: the
command not on the PATH, a script the kernel cannot run, a value too large for one
environment variable. Each names what to do; none shows a secret's text.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

from sealbox.cli._io import print_error
from sealbox.secret import Secret

__all__ = ["exec_hint", "not_found_hint", "too_big"]


def too_big(program: str, values: dict[str, Secret[str]]) -> None:
    """Exec said "argument list too long": name the value that made it so (its size, never
    its text) rather than let that blame the command's arguments."""
    sizes = {n: len(f"{n}={v.expose_secret()}".encode()) + 1 for n, v in values.items()}
    if not sizes:
        return
    big = max(sizes, key=sizes.__getitem__)
    # Linux's limit on one NAME=value string, its NUL included (MAX_ARG_STRLEN).
    if sys.platform.startswith("linux") and sizes[big] > 32 * 4096:
        problem = f"{big}'s value ({sizes[big]} bytes) is over one variable's limit (131072)"
    else:
        problem = f"the environment is too large (the largest value: {big}, {sizes[big]} bytes)"
    hint = "keep a large value in a file of its own (sealbox encrypt) and give the command its path"
    print_error(f"cannot run {program}: {problem}; nothing was run", hint=hint)
    raise SystemExit(126)


def exec_hint(exc: OSError, program: str) -> str | None:
    """What to do when the kernel refused a program that is there and executable."""
    if exc.errno == errno.ENOEXEC and not _starts_with(program, b"\x7fELF"):
        # Not a program the kernel knows (a binary for another machine says no more).
        return (
            "a script needs a first line naming its interpreter (#!/bin/sh), or run it "
            f"through one: -- sh {program}"
        )
    if exc.errno == errno.ENOENT:  # the program is there: its #! interpreter is not
        return "the interpreter its first line (#!) names is not installed, or not there"
    return None


def _starts_with(path: str, magic: bytes) -> bool:
    try:
        with Path(path).open("rb") as f:
            return f.read(len(magic)) == magic
    except OSError:
        return False


def not_found_hint(name: str) -> str:
    if os.sep not in name and Path(name).is_file():
        return (
            "the command is looked up on your PATH, not in this folder: to run the one "
            f"here, give its path: .{os.sep}{name}"
        )
    return "it was looked up on your PATH; check the name, or give the program's path"
