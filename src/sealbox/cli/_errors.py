"""How a failed command is reported: one line on stderr and an exit status.

Shared by the click commands (:mod:`sealbox.cli._app`) and the direct path of
``encrypt``/``decrypt`` (:mod:`sealbox.cli._direct`), which runs without click.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from sealbox.cli._hints import hint_for
from sealbox.cli._io import (
    CLIError,
    StdoutError,
    Terminated,
    no_room,
    note,
    os_reason,
    print_error,
    stdout_failed,
)
from sealbox.exceptions import SealboxError

__all__ = ["debug_requested", "report"]


def debug_requested(argv: Sequence[str]) -> bool:
    """``--debug`` before any ``--``, or ``SEALBOX_DEBUG`` set to a true value."""
    if os.environ.get("SEALBOX_DEBUG", "").lower() in {"1", "true", "yes"}:
        return True
    argv = list(argv)
    return "--debug" in (argv[: argv.index("--")] if "--" in argv else argv)


def report(exc: BaseException, *, debug: bool) -> int:
    """Print ``exc`` for a person and return the exit status.

    Re-raises ``exc`` when ``debug`` is set (for a traceback), except for an
    interruption or a closed pipe, and re-raises anything that is not an
    ``Exception`` (``SystemExit``).
    """
    if isinstance(exc, Terminated):
        print_error(exc.word)
        return 128 + exc.signum
    if isinstance(exc, KeyboardInterrupt):
        print_error("interrupted")
        return 130
    if isinstance(exc, BrokenPipeError):
        # The reader went away (`sealbox … | head`): not an error worth a message.
        _silence_stdout()
        return 1
    if not isinstance(exc, Exception) or debug:
        raise exc
    if isinstance(exc, SealboxError):
        folder = _missing_folder(exc)
        if folder is not None:
            # Said alike whether the lock file or the new version found no folder.
            import shlex

            print_error(
                f"cannot write in {folder}: the folder does not exist",
                hint=f"create it first (mkdir -p {shlex.quote(folder)}), or give another path",
            )
            return 1
        print_error(str(exc), hint=_device_hint(exc) or hint_for(exc))
        for line in getattr(exc, "notes", ()):
            note(line)
    elif isinstance(exc, StdoutError):
        # click.echo and sys.stdout say only the system's words (no space left on device).
        failed = (
            stdout_failed(exc)
            if no_room(exc)
            else CLIError(f"cannot write standard output: {os_reason(exc)}")
        )
        print_error(str(failed), hint=failed.hint)
    elif isinstance(exc, OSError):
        message = os_reason(exc)
        print_error(f"{exc.filename}: {message}" if exc.filename else message)
    else:
        # Only the type: the message of an unexpected error may hold data.
        print_error(
            f"unexpected internal error ({type(exc).__name__})",
            hint="rerun with --debug for a traceback, and report it",
        )
    return 1


def _device_hint(exc: SealboxError) -> str | None:
    """For a write a device refused for want of room (``-o /dev/full``): there is no file
    system to free space on, so say what refused it instead; ``None`` for a file."""
    path = exc.facts.get("path")
    if exc.code != "disk_full" or not isinstance(path, str):
        return None
    import stat

    try:
        mode = os.stat(path).st_mode  # noqa: PTH116 - no pathlib on the direct path
    except (OSError, ValueError):
        return None
    if not (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)):
        return None
    return (
        f"{path} is a device, not a file, and it refused the write (it has no room, or "
        "takes no data): write the output to a file"
    )


def _missing_folder(exc: SealboxError) -> str | None:
    """The folder a write found missing (its lock file's, code ``folder_missing``, or its
    new version's: the folder of a write that failed with ENOENT), or ``None``."""
    if exc.code == "folder_missing":
        # The lock file's folder is absolute; one below the working directory is shown
        # as a relative path, as the new version's folder is (the path as typed).
        folder = exc.facts.get("folder")
        here = os.getcwd() + os.sep  # noqa: PTH109 - no pathlib on the direct path
        return folder[len(here) :] if folder and folder.startswith(here) else folder
    cause = exc.__context__
    folder = exc.facts.get("path")
    if (
        exc.code == "storage"
        and isinstance(cause, FileNotFoundError)
        and folder
        and isinstance(cause.filename, str)
        # No pathlib: this runs on the direct path of encrypt and decrypt.
        and os.path.dirname(cause.filename) == folder  # noqa: PTH120
        and not os.path.isdir(folder)  # noqa: PTH112
    ):
        return folder
    return None


def _silence_stdout() -> None:
    # Point stdout at /dev/null so the interpreter's final flush does not fail again.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
