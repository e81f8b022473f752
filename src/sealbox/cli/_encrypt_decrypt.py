"""What ``sealbox encrypt`` and ``sealbox decrypt`` do, without the argument parser.

These commands are the ones run on large files and in loops over many small
ones, so their start-up counts: this module (and everything it imports) stays
free of ``click``, ``pathlib`` and ``logging``. :mod:`sealbox.cli.age` wraps
:func:`encrypt_files` and :func:`decrypt_files` in click commands, and
:mod:`sealbox.cli._direct` calls them straight from the arguments of a plain
invocation.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import sys
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO

from sealbox import age
from sealbox.age.files import open_into, seal_into
from sealbox.cli._io import (
    TEXT_PROBE,
    CLIError,
    Terminated,
    looks_binary,
    no_room,
    passphrase_source,
    read_passphrase,
    stdout_failed,
)
from sealbox.cli._progress import progress_bar
from sealbox.exceptions import (
    DecryptionError,
    FormatError,
    KeyFormatError,
    NoIdentityMatchError,
    SealboxError,
    StorageError,
)
from sealbox.storage import AlignedWriter, atomic_writer, is_special, os_reason, write_failed

# A path from the command line: a str (or pathlib.Path); "-" or None is stdin/stdout.
PathArg = str | os.PathLike[str]

__all__ = [
    "check_output",
    "decrypt_files",
    "encrypt_files",
    "input_stream",
    "is_std",
    "load_identity_files",
    "load_recipients",
    "open_output",
    "refuse_plugins",
    "refuse_read_file",
    "stdout_is_terminal",
]

_LEGACY_PROBE = 64 * 1024
# The codes of a recipient that is secret (a private key, an age identity).
_SECRET_RECIPIENT = frozenset({"private_key_as_recipient", "identity_as_recipient"})


def is_std(path: PathArg | None) -> bool:
    """Whether ``path`` means stdin or stdout (omitted, or ``-``)."""
    return path is None or os.fspath(path) == "-"


def load_recipients(recipients: Sequence[str], files: Sequence[PathArg]) -> list[age.Recipient]:
    """Parse ``-r`` values (errors name the value) and read ``-R`` files (``-``: stdin)."""
    targets: list[age.Recipient] = []
    for text in recipients:
        lines = [line for line in text.strip().splitlines() if line.strip()]
        if len(lines) > 1 and not lines[0].startswith("-----BEGIN"):
            # -r "$(cat recipients.txt)": nothing quoted, a line may be a secret key.
            raise CLIError(
                f"-r takes one recipient, and this value has {len(lines)} lines",
                hint="give each recipient with its own -r, or the file of them with -R FILE",
            )
        try:
            targets.append(age.parse_recipient(text))
        except SealboxError as exc:
            # A private key or an identity is not quoted: its start is secret too.
            shown = "" if exc.code in _SECRET_RECIPIENT else f" {text[:40]!r}"
            raise type(exc)(
                f"-r{shown}: {exc}", hint=exc.hint, code=exc.code, facts=exc.facts
            ) from None
    for path in files:
        if os.fspath(path) != "-":
            targets += age.load_recipients(path)
            continue
        data = sys.stdin.buffer.read(age.keys.MAX_KEY_FILE + 1)
        if len(data) > age.keys.MAX_KEY_FILE:
            raise KeyFormatError("the recipients on stdin are larger than 16 MiB")
        try:
            text = data.decode()
        except UnicodeDecodeError:
            raise KeyFormatError("the recipients on stdin are not UTF-8 text") from None
        targets += age.parse_recipients(text, source="recipients on stdin")
    return targets


def load_identity_files(
    files: Sequence[PathArg],
    passphrase_file: PathArg | None,
    asked: list[PathArg] | None = None,
) -> list[age.Identity]:
    """Read ``-i`` files; an encrypted key asks for its passphrase only when it is needed
    (an SSH key's when it is first used: each file asked for is added to ``asked``)."""
    identities: list[age.Identity] = []
    for path in files:

        def getter(path: PathArg = path) -> Any:
            if asked is not None:
                asked.append(path)
            return read_passphrase(passphrase_file, prompt=f"Passphrase for {os.fspath(path)}")

        try:
            if os.fspath(path) == "-":
                data = sys.stdin.buffer.read(age.keys.MAX_KEY_FILE + 1)
                identities += age.parse_identities(
                    data, source="identities on stdin", passphrase=getter
                )
            else:
                identities += age.load_identities(path, passphrase=getter)
        except DecryptionError as exc:
            raise _passphrase_refused(exc, passphrase_file) from None
    return identities


def _passphrase_refused(exc: DecryptionError, passphrase_file: PathArg | None) -> SealboxError:
    """``exc`` with a hint naming where the passphrase came from, when the passphrase of
    an encrypted identity file or SSH key is what failed (else ``exc`` itself)."""
    hint = f"the passphrase came from {passphrase_source(passphrase_file)}"
    if isinstance(exc, NoIdentityMatchError):  # an age-encrypted identity file
        return NoIdentityMatchError(str(exc), stanza_types=exc.stanza_types, hint=hint)
    if exc.code == "key_not_opened":  # an SSH key
        return DecryptionError(str(exc), code=exc.code, hint=hint)
    return exc


class StopRequest:
    """Ctrl-C, SIGTERM or SIGHUP received during a run, kept for :meth:`check`.

    The handlers raise at once, but Python drops an exception raised while a weakref
    callback or a ``__del__`` runs (an import's module-lock callback, a file closed by the
    collector): the run would go on, and the output be put in place, after the user asked
    it to stop. :meth:`check`, called before the output is committed, raises it again.
    """

    def __init__(self) -> None:
        self.signum: int | None = None

    def handle(self, signum: int, _frame: object) -> None:
        self.signum = signum
        self.check()

    def check(self) -> None:
        """Raise the stop that was asked for, if one was."""
        if self.signum == signal.SIGINT:
            raise KeyboardInterrupt
        if self.signum is not None:
            raise Terminated(self.signum)


# The signals that stop a run: Ctrl-C, SIGTERM, and SIGHUP (the terminal or the SSH
# connection closed), whose default action would leave the temporary output behind: for
# decrypt, part of the plaintext.
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[StopRequest]:
    """Turn Ctrl-C, SIGTERM and SIGHUP into a KeyboardInterrupt (:class:`Terminated` for
    the last two) so temporary files are cleaned up; call the request's ``check()``
    before the output is committed.

    A signal the caller ignores stays ignored: a background job of a script ignores
    Ctrl-C (meant for the job in the foreground), ``nohup`` ignores SIGHUP.
    """
    stop = StopRequest()
    previous: dict[int, Any] = {}
    try:
        for signum in _STOP_SIGNALS:
            if signal.getsignal(signum) is not signal.SIG_IGN:
                previous[signum] = signal.signal(signum, stop.handle)
    except ValueError:  # not the main thread (embedded use)
        yield stop
        return
    hook = sys.unraisablehook

    def unraisable(seen: Any) -> None:
        # A stop raised inside a weakref callback or a __del__ is dropped there, and
        # check() raises it again: not printed as "Exception ignored in …" beside the
        # one error line.
        if stop.signum is None or not isinstance(seen.exc_value, KeyboardInterrupt):
            hook(seen)

    sys.unraisablehook = unraisable
    try:
        yield stop
    finally:
        sys.unraisablehook = hook
        for restored, handler in previous.items():
            signal.signal(restored, handler)


@contextlib.contextmanager
def input_stream(path: PathArg | None) -> Iterator[tuple[BinaryIO, int | None]]:
    """The input stream and, for a regular file, its size."""
    if path is None or is_std(path):
        yield sys.stdin.buffer, None
        return
    try:
        fh = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by the with below
    except FileNotFoundError:
        raise StorageError(f"{os.fspath(path)} does not exist") from None
    except OSError as exc:
        raise StorageError(f"cannot read {os.fspath(path)}: {os_reason(exc)}") from None
    with fh:
        st = os.fstat(fh.fileno())
        yield fh, st.st_size if stat.S_ISREG(st.st_mode) else None


def check_output(
    path: PathArg, input_: PathArg | None, force: bool, also: Sequence[tuple[PathArg, str]] = ()
) -> None:
    """Refuse to write over the input or a file the command reads (``also``: a key, an
    identity, a recipients or passphrase file, with what it is), or over an existing file
    without ``--force``.

    A device or FIFO (``-o /dev/null``, a named pipe) is written into, as age does.
    """
    if not os.path.exists(path) or is_special(path):
        return
    refuse_read_file(path, [(input_, "input file"), *also])
    if not force:
        raise CLIError(f"{os.fspath(path)} already exists", hint="use --force to replace it")


def refuse_read_file(
    path: PathArg,
    read: Sequence[tuple[PathArg | None, str]],
    *,
    hint: str = "write the output to another file",
) -> None:
    """Refuse ``path`` as an output if it is one of the files the command reads (``read``:
    each with what it is; ``None`` or ``-`` for standard input), whatever the name it is
    given by (a link, a hard link), even with ``--force``: replacing a key, an identity,
    a passphrase file or the input loses what the command needed to be undone.
    """
    for other, what in read:
        with contextlib.suppress(OSError, ValueError):
            if other is None or is_std(other):
                # A file on stdin (`< FILE`) is read as much as one named.
                stdin = os.fstat(sys.stdin.fileno())
                same = stat.S_ISREG(stdin.st_mode) and os.path.samestat(stdin, os.stat(path))
            else:
                same = os.path.samefile(path, other)
            if same:
                raise CLIError(f"{os.fspath(path)} is the {what}", hint=hint)


# What standard output is known by as a path. Written into where it stands, as without
# -o: a regular file behind it is the caller's, neither refused as existing nor replaced.
_STDOUT_NAMES = frozenset({"/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"})


def refuse_stdout_as_input(input_: PathArg | None) -> None:
    """Refuse a standard output that is the input file (``>> FILE``, ``1<> FILE``): the
    input would read back what is written to it, or be overwritten as it is read."""
    same = False
    with contextlib.suppress(OSError, ValueError):
        out = os.fstat(sys.stdout.fileno())
        if not stat.S_ISREG(out.st_mode):
            return
        named = input_ is not None and not is_std(input_)
        src = os.stat(input_) if named and input_ is not None else os.fstat(sys.stdin.fileno())
        same = os.path.samestat(out, src)
    if same:
        raise CLIError("standard output is the input file", hint="write the output to another file")


@contextlib.contextmanager
def open_output(
    path: PathArg | None,
    input_: PathArg | None,
    force: bool,
    mode: int,
    also: Sequence[tuple[PathArg, str]] = (),
) -> Iterator[AlignedWriter]:
    """An atomic output file, or stdout when no path is given (written in aligned pieces).

    ``also``: the other files the command reads, never replaced (see :func:`check_output`).
    """
    if path is None or is_std(path) or os.fspath(path) in _STDOUT_NAMES:
        refuse_stdout_as_input(input_)
        try:
            yield AlignedWriter.from_file(sys.stdout.buffer)
            sys.stdout.buffer.flush()
        except OSError as exc:
            # Only a write fails so (the input is read, the key files were read before).
            if not no_room(exc):
                raise
            raise stdout_failed(exc, "write the output elsewhere with -o FILE") from None
        return
    check_output(path, input_, force, also)
    try:
        with atomic_writer(path, mode=mode, overwrite=True) as out:
            yield AlignedWriter(out)
    except OSError as exc:
        raise write_failed(os.fspath(path), path, exc) from None


def stdout_is_terminal(output: PathArg | None) -> bool:
    """Whether the output is stdout and stdout is a terminal."""
    return is_std(output) and sys.stdout.isatty()


def refuse_plugins(plugins: Sequence[str]) -> None:
    """Refuse age's ``-j PLUGIN``: sealbox runs no age plugin (the name is not shown)."""
    if plugins:
        raise CLIError(
            "age plugins (-j) are not supported",
            hint="use age with the plugin, or an age1…, ssh-ed25519 or ssh-rsa key, "
            "or a passphrase",
        )


def encrypt_files(
    *,
    recipients: Sequence[str] = (),
    recipient_files: Sequence[PathArg] = (),
    identity_files: Sequence[PathArg] = (),
    use_passphrase: bool = False,
    armor: bool = False,
    output_path: PathArg | None = None,
    force: bool = False,
    passphrase_file: PathArg | None = None,
    encrypt_mode: bool = False,
    plugins: Sequence[str] = (),
    input_path: PathArg | None = None,
) -> None:
    """``sealbox encrypt``, once its options are known to go together.

    ``encrypt_mode`` (age's ``-e``) changes nothing; ``plugins`` (``-j``) are refused.
    """
    del encrypt_mode  # accepted so that age's command lines run as they are
    refuse_plugins(plugins)
    if not armor and stdout_is_terminal(output_path):
        raise CLIError(
            "refusing to write binary output to the terminal",
            hint="use -a for text output, or -o FILE",
        )
    targets = load_recipients(recipients, recipient_files)
    for identity in load_identity_files(identity_files, passphrase_file):
        recipient = getattr(identity, "recipient", None)
        if recipient is not None:
            targets.append(recipient())
    if use_passphrase:
        targets.append(age.ScryptRecipient(read_passphrase(passphrase_file, confirm=True)))
    with (
        _terminate_as_interrupt() as stop,
        input_stream(input_path) as (fin, size),
        progress_bar(size, "encrypting") as tick,
        open_output(
            output_path,
            input_path,
            force,
            0o644,
            _read_files(identity_files, recipient_files, passphrase_file),
        ) as out,
    ):
        seal_into(fin, out, targets, armor=armor, progress=tick, processes=True)
        stop.check()


def decrypt_files(
    *,
    identity_files: Sequence[PathArg] = (),
    output_path: PathArg | None = None,
    force: bool = False,
    passphrase_file: PathArg | None = None,
    decrypt_mode: bool = False,
    plugins: Sequence[str] = (),
    input_path: PathArg | None = None,
) -> None:
    """``sealbox decrypt``: to ``output_path`` atomically, or to stdout.

    ``decrypt_mode`` (age's ``-d``) changes nothing; ``plugins`` (``-j``) are refused.
    """
    del decrypt_mode  # accepted so that age's command lines run as they are
    refuse_plugins(plugins)
    asked: list[PathArg] = []
    identities = load_identity_files(identity_files, passphrase_file, asked)
    if not identities:
        identities = [
            age.ScryptIdentity(lambda: read_passphrase(passphrase_file, prompt="Passphrase"))
        ]
    with _terminate_as_interrupt() as stop, input_stream(input_path) as (fin, size):
        try:
            dec = age.Decryptor(fin, identities)
        except FormatError as exc:
            if exc.code == "not_an_age_file":
                _point_at_legacy(fin, input_path)
            raise
        except NoIdentityMatchError as exc:
            from sealbox.age.scrypt import STANZA_TYPE as SCRYPT

            if identity_files and exc.stanza_types == (SCRYPT,):
                raise NoIdentityMatchError(
                    str(exc),
                    stanza_types=exc.stanza_types,
                    hint="the file is passphrase-encrypted: leave out -i to be asked for it",
                ) from None
            if identity_files:
                raise exc from None
            if exc.stanza_types == (SCRYPT,):
                raise NoIdentityMatchError(
                    "incorrect passphrase",
                    stanza_types=exc.stanza_types,
                    hint=f"the passphrase came from {passphrase_source(passphrase_file)}",
                ) from None
            raise NoIdentityMatchError(
                "no identity given, and the file is not passphrase-encrypted",
                stanza_types=exc.stanza_types,
                hint=f"use -i FILE (the file is encrypted to: {', '.join(exc.stanza_types)})",
            ) from None
        except DecryptionError as exc:
            # An encrypted OpenSSH key is opened when first used, here.
            if not asked or exc.code != "key_not_opened":
                raise
            raise _passphrase_refused(exc, passphrase_file) from None
        with (
            dec,
            progress_bar(size, "decrypting") as tick,
            open_output(
                output_path,
                input_path,
                force,
                0o600,
                _read_files(identity_files, (), passphrase_file),
            ) as out,
        ):
            if not stdout_is_terminal(output_path):
                open_into(dec, out, tick, processes=True)
                stop.check()
                return
            for view in _refuse_binary(dec.views()):
                out.write(view)
                if tick is not None:
                    tick(len(view))


def _read_files(
    identity_files: Sequence[PathArg],
    recipient_files: Sequence[PathArg],
    passphrase_file: PathArg | None,
) -> list[tuple[PathArg, str]]:
    """The key files a run reads, with what each is: an output never replaces them."""
    read = [(p, "identity file") for p in identity_files]
    read += [(p, "recipients file") for p in recipient_files]
    if passphrase_file is not None:
        read.append((passphrase_file, "passphrase file"))
    return read


def _point_at_legacy(fin: BinaryIO, input_path: PathArg | None) -> None:
    """Raise the library's error naming the legacy layout, if the input is a legacy record.

    Only a regular file can be read again from its start; a pipe keeps the plain
    "not an age file" error.
    """
    try:
        fd = fin.fileno()
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return
        head = os.pread(fd, _LEGACY_PROBE, 0)
    except (OSError, ValueError):
        return
    import shlex

    from sealbox.keysets import legacy

    # Quoted as a shell word: the hint's commands are meant to be pasted.
    path = None if input_path is None or is_std(input_path) else shlex.quote(os.fspath(input_path))
    legacy.raise_if_legacy(head, path=path)


def _refuse_binary(views: Iterator[memoryview]) -> Iterator[memoryview]:
    first = True
    for view in views:
        if first:
            first = False
            if looks_binary(bytes(view[:TEXT_PROBE])):
                raise CLIError(
                    "refusing to write binary output to the terminal",
                    hint="use -o FILE, or pipe the output",
                )
        yield view
