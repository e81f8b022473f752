"""Input and output helpers shared by the commands: errors, passphrases, stdin, stdout.

Free of ``click`` (and of :mod:`sealbox.secret` until a passphrase is read): the
encrypt and decrypt commands run without loading either.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sealbox.exceptions import DecryptionError, SealboxError

if TYPE_CHECKING:
    from sealbox.secret import Secret

F = TypeVar("F", bound=Callable[..., Any])
K = TypeVar("K")

PASSPHRASE_ENV = "SEALBOX_PASSPHRASE"  # noqa: S105 - a variable name, not a value
MAX_PASSPHRASE_FILE = 64 * 1024
PASSPHRASE_SOURCES = f"--passphrase-file, ${PASSPHRASE_ENV}, or the prompt on a terminal"
"""Where :func:`read_passphrase` looks for a passphrase, in that order (for help and hints)."""


class CLIError(SealboxError):
    """A user error found by the command line itself (bad argument value, no terminal…).

    ``notes``: lines printed on stderr after the error and its hint, for the details a
    one-line error leaves out (the refused lines of ``users import``).
    """

    def __init__(
        self, message: str = "", *, hint: str | None = None, notes: Sequence[str] = ()
    ) -> None:
        super().__init__(message, hint=hint)
        self.notes = tuple(notes)


class Terminated(KeyboardInterrupt):
    """SIGTERM (or SIGHUP: the terminal or connection closed), raised where Ctrl-C would
    be so the same clean-up runs; the command exits with 128 + the signal's number (143,
    129), as a process the signal ended would. ``word``: what the error line says."""

    def __init__(self, signum: int = 15) -> None:
        super().__init__(signum)
        self.signum = signum
        self.word = "hung up" if signum == 1 else "terminated"  # 1: SIGHUP


def terminal_safe(text: str) -> str:
    """``text`` with every character a terminal would act on, rather than show, escaped.

    Messages name files, keys and accounts as the user or a file gave them: an escape
    sequence in a file name would otherwise move the cursor, recolour or clear the
    screen, and a bidirectional override (U+202E) would show a name reversed. Control
    and format characters become ``\\xNN``/``\\uNNNN``; a newline and a tab stay, as
    sealbox's own messages use them.
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch in "\n\t" else ascii(ch)[1:-1] for ch in text)


def print_error(message: str, *, hint: str | None = None) -> None:
    """Write ``sealbox: error: …`` (and ``sealbox: hint: …``) to stderr, terminal-safe."""
    err = sys.stderr
    err.write(f"sealbox: error: {terminal_safe(message)}\n")
    if hint:
        err.write(f"sealbox: hint: {terminal_safe(hint)}\n")
    err.flush()


def counted(n: int, noun: str) -> str:
    """``1 secret``, ``2 secrets``: a count with its noun (plural with an s)."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def note(message: str) -> None:
    """Write an informational line to stderr (never data, never secrets), terminal-safe."""
    sys.stderr.write(f"{terminal_safe(message)}\n")
    sys.stderr.flush()


def warn(message: str) -> None:
    """Write ``sealbox: warning: …`` to stderr: the command goes on, but something it did
    or found needs the user's attention (an unverified certificate, a copy on disk)."""
    note(f"sealbox: warning: {message}")


def passphrase_file_option(func: F) -> F:
    """The ``--passphrase-file`` option (the passphrase is never taken from argv)."""
    from sealbox.cli._age_args import PASSPHRASE_FILE, click_option

    return click_option(PASSPHRASE_FILE)(func)


def read_passphrase(
    passphrase_file: str | os.PathLike[str] | None,
    *,
    confirm: bool = False,
    prompt: str = "Passphrase",
) -> Secret[str]:
    """Get a passphrase from a file, ``$SEALBOX_PASSPHRASE`` or a terminal prompt, in that order.

    A trailing newline in the file is dropped. The prompt reads from the
    controlling terminal, so stdin stays free for data.

    Raises:
        CLIError: no source is available, or the passphrase is empty.
    """
    source = passphrase_source(passphrase_file)
    if passphrase_file is not None:
        try:
            with open(passphrase_file, "rb") as fh:
                raw = fh.read(MAX_PASSPHRASE_FILE + 1)
        except OSError as exc:
            raise CLIError(
                f"cannot read passphrase file {passphrase_file}: {os_reason(exc)}",
                hint="check the path given to --passphrase-file, or give the passphrase with "
                f"${PASSPHRASE_ENV}",
            ) from None
        if len(raw) > MAX_PASSPHRASE_FILE:
            raise CLIError(
                f"passphrase file {passphrase_file} is larger than 64 KiB",
                hint="--passphrase-file takes a file that holds the passphrase alone",
            )
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            raise CLIError(
                f"passphrase file {passphrase_file} is not UTF-8 text",
                hint="save the passphrase in the file as UTF-8 text, or give it with "
                f"${PASSPHRASE_ENV} instead of --passphrase-file",
            ) from None
        value = text.removesuffix("\n").removesuffix("\r")
        if not value:
            raise CLIError(
                f"the passphrase from {source} is empty",
                hint="write the passphrase in the file, or give it with "
                f"${PASSPHRASE_ENV} instead of --passphrase-file",
            )
    elif PASSPHRASE_ENV in os.environ:
        value = os.environ[PASSPHRASE_ENV]
    else:
        value = _prompt(prompt, confirm=confirm)
    if not value:
        raise CLIError(f"the passphrase from {source} is empty")
    if not _is_utf8(value):
        # Bytes that are not UTF-8 arrive as lone surrogates (os.environ, a terminal).
        raise CLIError(f"the passphrase from {source} is not UTF-8 text")
    from sealbox.secret import Secret

    return Secret(value, register=True)


def _is_utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def passphrase_source(passphrase_file: str | os.PathLike[str] | None) -> str:
    """Where :func:`read_passphrase` takes the passphrase from, in words."""
    if passphrase_file is not None:
        return f"passphrase file {passphrase_file}"
    if PASSPHRASE_ENV in os.environ:
        return f"${PASSPHRASE_ENV}"
    return "the prompt"


def load_key_file(
    load: Callable[[Callable[[], Secret[str]]], K], passphrase_file: str | os.PathLike[str] | None
) -> K:
    """``load(getter)``: a key file's load, given the getter of its passphrase.

    A wrong passphrase says where the passphrase came from: with ``$SEALBOX_PASSPHRASE``
    set for another file, nothing else tells why a passphrase never asked for is wrong.
    """
    asked = False

    def getter() -> Secret[str]:
        nonlocal asked
        asked = True
        return read_passphrase(passphrase_file)

    try:
        return load(getter)
    except DecryptionError as exc:
        if asked and exc.hint is None:
            # Given to the error itself: its type, code and message stay the loader's.
            exc.hint = f"the passphrase came from {passphrase_source(passphrase_file)}"
        raise


def pasted_secret_key(value: str) -> bool:
    """Whether ``value``, given where a file name goes, is key material rather than a
    name: it names nothing on disk and holds an age identity or a private key's BEGIN line
    (``-i "$(cat key.txt)"``). An error about the missing file would quote the key."""
    try:
        if os.path.lexists(value):
            return False
    except ValueError:  # a NUL in it: not a file name either
        pass
    # Only for a name that is no file (an error path): the age package stays unloaded
    # by commands that do not use it.
    from sealbox.age.keys import secret_key_kind

    return secret_key_kind(value) is not None


PASTED_KEY_MESSAGE = (
    "a secret key was given where a file name goes (not shown): write it to a file "
    "only you can read and give that file's name"
)
"""The usage error for :func:`pasted_secret_key`."""


def open_tty() -> io.TextIOWrapper:
    """Open the controlling terminal for a prompt, whatever stdin and stdout are.

    Raises:
        CLIError: there is no terminal (a pipe, a service, CI).
    """
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        raise CLIError(
            "no passphrase given and no terminal to ask on",
            hint=f"set ${PASSPHRASE_ENV} or use --passphrase-file",
        ) from None
    # A tty cannot seek, so it is wrapped unbuffered, as getpass does.
    return io.TextIOWrapper(io.FileIO(fd, "w+"), write_through=True)


def _prompt(prompt: str, *, confirm: bool) -> str:
    import getpass

    with open_tty() as tty:
        value = _ask(getpass.getpass, f"{prompt}: ", tty)
        if confirm and _ask(getpass.getpass, f"{prompt} (again): ", tty) != value:
            raise CLIError("the passphrases do not match")
    return value


def _ask(getpass: Callable[..., str], prompt: str, tty: io.TextIOWrapper) -> str:
    """One hidden answer; Ctrl-D or bytes that are not UTF-8 are a plain error."""
    try:
        return getpass(prompt, stream=tty)
    except EOFError:
        raise CLIError("no passphrase typed (end of input at the prompt)") from None
    except UnicodeDecodeError:
        raise CLIError("the passphrase typed is not UTF-8 text") from None


def read_stdin(limit: int, what: str, *, hint: str | None = None) -> bytes:
    """Read all of stdin, refusing more than ``limit`` bytes."""
    data = sys.stdin.buffer.read(limit + 1)
    if len(data) > limit:
        raise CLIError(f"{what} on stdin is larger than {limit} bytes", hint=hint)
    return data


def read_value(limit: int, what: str, *, prompt: str, hint: str | None = None) -> bytes:
    """A value to encrypt: all of stdin, or, when stdin is a terminal, one line typed at
    a prompt that does not echo it (read as a file, the terminal would show the secret as
    it is typed, and leave it on the screen).

    Raises:
        CLIError: too large, or the prompt got no answer (Ctrl-D) or no UTF-8 text.
    """
    if not sys.stdin.isatty():
        return read_stdin(limit, what, hint=hint)
    import getpass

    with open_tty() as tty:
        try:
            data = getpass.getpass(f"{prompt}: ", stream=tty).encode()
        except EOFError:
            raise CLIError("no value typed (end of input at the prompt)") from None
        except UnicodeDecodeError:
            raise CLIError("the value typed is not UTF-8 text") from None
    if len(data) > limit:
        raise CLIError(f"{what} typed is larger than {limit} bytes", hint=hint)
    return data


TEXT_PROBE = 8192
"""How much of an output :func:`looks_binary` looks at."""


def looks_binary(probe: bytes) -> bool:
    """Whether the start of an output is not text (a NUL, or not UTF-8 before its last bytes).

    The last few bytes may be a character cut in two by the end of the probe.
    """
    try:
        probe.decode()
    except UnicodeDecodeError as exc:
        # Only an incomplete character at the very end may be one the probe cut in two:
        # an invalid byte there (0xff) is binary, and a NUL before it is still looked for.
        if exc.reason != "unexpected end of data" or exc.start < len(probe) - 4:
            return True
    return b"\x00" in probe


def refuse_binary_on_terminal(probe: bytes) -> None:
    """Refuse to write ``probe`` (the start of the output) to stdout if it is a terminal.

    Raises:
        CLIError: stdout is a terminal and the output is not text.
    """
    if sys.stdout.isatty() and looks_binary(probe[:TEXT_PROBE]):
        raise CLIError(
            "refusing to write binary output to the terminal",
            hint="redirect it to a file (> FILE), or pipe it",
        )


def write_stdout(data: bytes) -> None:
    """Write bytes to stdout and flush; binary data is never written to a terminal.

    Raises:
        CLIError: stdout is a terminal and ``data`` is not text, or stdout has no room.
    """
    refuse_binary_on_terminal(data)
    out = sys.stdout.buffer
    try:
        out.write(data)
        out.flush()
    except OSError as exc:
        if not no_room(exc):
            raise
        raise stdout_failed(exc) from None


class StdoutError(OSError):
    """A write to standard output failed (a closed pipe aside): :func:`report
    <sealbox.cli._errors.report>` names standard output, which the system's words do not."""


class _StdoutFile(io.FileIO):
    """Standard output's file descriptor, whose failed write is a :class:`StdoutError`.

    Raised once: what is written after it (the buffer's data again, as the stream is
    flushed at exit) is dropped, as it could not be written either.
    """

    failed = False

    def write(self, data: Any, /) -> int:
        if self.failed:
            return len(memoryview(data).cast("B"))
        try:
            return super().write(data)
        except BlockingIOError:
            raise  # a non-blocking pipe that is full: the buffer keeps the rest
        except BrokenPipeError:
            self.failed = True
            raise  # a reader gone: reported quietly
        except OSError as exc:
            self.failed = True
            raise StdoutError(exc.errno, exc.strerror) from None


@contextlib.contextmanager
def stdout_failures_named() -> Iterator[None]:
    """Make a failed write to ``sys.stdout`` (``click.echo``, ``print``, its ``.buffer``)
    a :class:`StdoutError` during the block, whoever writes it; ``sys.stdout`` is the
    same stream again afterwards (flush it in the block: a failure after it is dropped).
    Only the process's own standard output is wrapped, not one a caller or a test put in
    its place."""
    original = sys.stdout
    ours = isinstance(original, io.TextIOWrapper) and original is sys.__stdout__
    try:
        ours = ours and original.fileno() == 1
    except (OSError, ValueError):  # a closed or unusual stream: left as it is
        ours = False
    if not ours or not isinstance(original, io.TextIOWrapper):
        yield
        return
    original.flush()
    sys.stdout = io.TextIOWrapper(
        io.BufferedWriter(_StdoutFile(1, "w", closefd=False)),
        encoding=original.encoding,
        errors=original.errors,
        line_buffering=original.line_buffering,
        write_through=original.write_through,
    )
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            sys.stdout.flush()
        sys.stdout = original


def no_room(exc: OSError) -> bool:
    """Whether a write failed for want of room (a full disk, a quota, a size limit)."""
    import errno

    return exc.errno in {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


_ELSEWHERE = "redirect it to another file system"


def _stdout_device() -> str | None:
    """`` (NAME)`` (or ``""``) if standard output is a device; ``None`` if it is not."""
    import stat

    try:
        if not stat.S_ISCHR(mode := os.fstat(1).st_mode) and not stat.S_ISBLK(mode):
            return None
    except OSError:
        return None
    try:
        return f" ({os.readlink('/proc/self/fd/1')})"
    except OSError:
        return ""


def stdout_failed(exc: OSError, instead: str = _ELSEWHERE) -> CLIError:
    """The error of a standard output that took no more (``> FILE`` on a full disk): the
    system's bare words would not say what was being written. ``instead``: what else to
    do, in the hint."""
    import errno

    device = _stdout_device()
    if device is not None:
        # /dev/full, a tape, a serial line: no file system to free space on.
        hint = (
            f"standard output is a device{device}, not a file, and it refused the write "
            "(it has no room, or takes no data): "
            f"{'redirect it to a file' if instead == _ELSEWHERE else instead}"
        )
    elif exc.errno == errno.EFBIG:
        hint = (
            "the file standard output goes to is at the largest size allowed (a file "
            f"size limit, 'ulimit -f', or the file system's): {instead}"
        )
    else:
        hint = (
            "free space on the file system standard output goes to ('df -h' shows it), "
            f"or {instead}"
        )
    return CLIError(f"cannot write standard output: {os_reason(exc)}", hint=hint)


def os_reason(exc: OSError) -> str:
    """:func:`sealbox.storage.os_reason`, imported on a failure only: this module is on
    every command's start-up path."""
    from sealbox.storage import os_reason as reason

    return reason(exc)
