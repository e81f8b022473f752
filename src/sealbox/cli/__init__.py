"""The ``sealbox`` command: a thin shell over the library.

Each command group lives in its own module, imported only when that command
runs, so ``sealbox --help`` and every command start without loading the parts
they do not use; a plain ``encrypt``, ``decrypt`` or ``jwt verify`` runs without loading click
at all (:mod:`sealbox.cli._direct`). Errors are printed as ``sealbox: error: …`` (and ``sealbox:
hint: …``) on stderr with exit status 1, usage errors with status 2, and a
traceback only with ``--debug`` or ``SEALBOX_DEBUG=1``.

A shell: it parses, calls public library functions, and prints. Library errors carry
a code; :mod:`sealbox.cli._hints` is the one place that turns codes into advice
naming the command's flags.

May import: :mod:`sealbox.exceptions`, :mod:`sealbox.secret`, :mod:`sealbox.storage`,
:mod:`sealbox.hazmat` (names of algorithms only), :mod:`sealbox.keys`,
:mod:`sealbox.keysets`, :mod:`sealbox.age`, :mod:`sealbox.passwords`, :mod:`sealbox.jwt`,
:mod:`sealbox.tls`, :mod:`sealbox.secrets`, :mod:`sealbox.transit` (its client),
:mod:`sealbox.service` (its entry points) and
third-party ``click``, ``rich``. Never a private name of another package, nor
``cryptography`` or ``OpenSSL``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

TYPE_CHECKING = False  # spelled out: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import NoReturn

__all__ = ["console", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status (the console script exits with it)."""
    return _main(list(sys.argv[1:] if argv is None else argv))[0]


def console() -> NoReturn:
    """The ``sealbox`` program (and ``python -m sealbox``): :func:`main`, then exit.

    After a plain ``encrypt``, ``decrypt`` or ``jwt verify`` everything the run opened is closed
    and its threads are done; what the interpreter would still do is free every
    module it loaded, a good part of a small file's run (bench/results/findings.md,
    "Interpreter exit"). So the
    ``atexit`` handlers run, the standard streams are flushed, and the process
    ends there. Every other command exits the usual way.
    """
    # A stream the shell closed (`<&-`, `>&-`) is None in Python; reading or writing it
    # would end in an AttributeError. Make it say what it is when a command uses it.
    if sys.stdin is None:
        sys.stdin = _ClosedStream("standard input", "</dev/null")
    if sys.stdout is None:
        sys.stdout = _ClosedStream("standard output", ">/dev/null")
    from sealbox.cli._io import stdout_failures_named

    try:
        # A failed write to stdout (`sealbox keygen > FILE` on a full disk) is named as
        # such, whichever command wrote it and however (click.echo, sys.stdout).
        with stdout_failures_named():
            status, direct = _main(sys.argv[1:], program=True)
            status = _flush_stdout(status)
    except KeyboardInterrupt:
        # Ctrl-C while the command's modules still load, before its own handling is in
        # place: the same line and status as once it is, not a traceback.
        sys.stderr.write("sealbox: error: interrupted\n")
        raise SystemExit(130) from None
    if direct:
        import atexit
        import os

        atexit._run_exitfuncs()
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BrokenPipeError:
            status = status or 1
        os._exit(status)
    sys.exit(status)


def _flush_stdout(status: int) -> int:
    """Write what the command left in stdout's buffer; a failure to is the command's
    (reported as :func:`report <sealbox.cli._errors.report>` does), unless it failed."""
    try:
        sys.stdout.flush()
    except OSError as exc:
        if status:
            return status
        from sealbox.cli._errors import debug_requested, report

        return report(exc, debug=debug_requested(sys.argv[1:]))
    return status


class _ClosedStream:
    """Stands for a standard stream the process was started without: any use of it is
    one ``sealbox: error:`` line, not an internal error."""

    def __init__(self, name: str, instead: str) -> None:
        self._name = name
        self._instead = instead

    def flush(self) -> None:
        pass  # the interpreter flushes at exit: there is nothing to flush

    def __getattr__(self, attribute: str) -> object:
        from sealbox.cli._io import CLIError

        raise CLIError(
            f"{self._name} is closed",
            hint=f"run it with {self._instead} if it is to read or write nothing there",
        )


def _main(args: list[str], *, program: bool = False) -> tuple[int, bool]:
    """The exit status, and whether the direct path (encrypt, decrypt, jwt verify) ran.

    ``program``: this process is the ``sealbox`` program (see :func:`run_direct
    <sealbox.cli._direct.run_direct>`), not a caller of :func:`main`.
    """
    if args and (args[0] in {"encrypt", "decrypt"} or args[:2] == ["jwt", "verify"]):
        # A plain encrypt/decrypt/jwt verify runs without click (start-up time); see _direct.
        from sealbox.cli._direct import run_direct

        status = run_direct(args, program=program)
        if status is not None:
            return status, True
    try:
        import click  # noqa: F401  (imported for the check only)
    except ImportError:
        sys.stderr.write(
            "sealbox: error: the command-line tool needs the 'cli' extra\n"
            "sealbox: hint: pip install 'sealbox[cli]'\n"
        )
        return 1, False
    from sealbox.cli._app import run

    return run(args), False
