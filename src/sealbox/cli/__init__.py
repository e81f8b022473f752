"""The ``sealbox`` command: a thin shell over the library.

Each command group lives in its own module, imported only when that command
runs, so ``sealbox --help`` and every command start without loading the parts
they do not use; a plain ``encrypt`` or ``decrypt`` runs without loading click
at all (:mod:`sealbox.cli._direct`). Errors are printed as ``sealbox: error: …`` (and ``sealbox:
hint: …``) on stderr with exit status 1, usage errors with status 2, and a
traceback only with ``--debug`` or ``SEALBOX_DEBUG=1``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status (the console script exits with it)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in {"encrypt", "decrypt"}:
        # A plain encrypt/decrypt runs without click (start-up time); see _direct.
        from sealbox.cli._direct import run_direct

        status = run_direct(args)
        if status is not None:
            return status
    try:
        import click  # noqa: F401  (imported for the check only)
    except ImportError:
        sys.stderr.write(
            "sealbox: error: the command-line tool needs the 'cli' extra\n"
            "sealbox: hint: pip install 'sealbox[cli]'\n"
        )
        return 1
    from sealbox.cli._app import run

    return run(args)
