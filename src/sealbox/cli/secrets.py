"""``sealbox secrets …``: the encrypted secrets file that is safe to commit."""

from __future__ import annotations

import contextlib
import errno
import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import click

from sealbox.age import Identity
from sealbox.cli._dialect import CommandLast, confirm, echo_json, json_option, yes_option
from sealbox.cli._edit_buffer import parse_edited, quote, saved
from sealbox.cli._exec_hints import exec_hint, not_found_hint, too_big
from sealbox.cli._io import (
    PASSPHRASE_ENV,
    CLIError,
    counted,
    note,
    open_tty,
    passphrase_file_option,
    print_error,
    terminal_safe,
    warn,
    write_stdout,
)
from sealbox.cli._paths import FilePath, NamedFile
from sealbox.exceptions import SealboxError, SecretSourceError
from sealbox.secret import Secret
from sealbox.secrets.base import NAME_PATTERN
from sealbox.secrets.sealed import FORMAT, SealedFile
from sealbox.storage import os_reason

_FILE = click.argument("file", type=NamedFile(dir_okay=False, path_type=Path))
_NAME = click.argument("name")
_IDENTITY = click.option(
    "-i",
    "--identity",
    "identities",
    multiple=True,
    required=True,
    type=FilePath(dir_okay=False, path_type=Path),
    help="An age or SSH identity file that can decrypt the values (repeatable).",
)
_RECIPIENT = click.option(
    "-r",
    "--recipient",
    "recipients",
    multiple=True,
    metavar="RECIPIENT",
    help="An age or SSH recipient (repeatable).",
)
_RECIPIENTS_FILE = click.option(
    "-R",
    "--recipients-file",
    "recipient_files",
    multiple=True,
    type=FilePath(dir_okay=False, path_type=Path),
    help="A file of recipients, one per line (repeatable).",
)
MAX_VALUE = 1024 * 1024


@click.group()
def secrets() -> None:
    """Manage an encrypted secrets file that is safe to commit.

    Names are in clear and sorted; every value is an age ciphertext for the
    recipients in the file's header. Anyone with the file can add or change a
    value; only holders of an identity can read one.
    """
    from sealbox.secrets.workspace import remove_stale_workspaces

    for folder in remove_stale_workspaces():
        note(f"removed {folder}, left by an editor session that did not end")


def _save(sealed: SealedFile) -> None:
    """Save, saying so when the file was upgraded from format version 1."""
    upgraded = sealed.version == 1
    sealed.save()
    if upgraded:
        note(f"upgraded {sealed.path} to {FORMAT} (a trailer now detects a file cut short)")
        sealed.version = 2


def _short(recipient: str) -> str:
    parts = recipient.split()
    if len(parts) >= 2 and parts[0].startswith("ssh-"):
        return " ".join([parts[0], "…" + parts[1][-8:], *parts[2:3]])
    return recipient


def _recipients(recipients: tuple[str, ...], files: tuple[Path, ...]) -> list[str]:
    from sealbox.age.keys import parse_recipients, read_recipients_file
    from sealbox.cli._encrypt_decrypt import load_recipients

    # Checked as `encrypt -r` checks them: an error names the -r value it is about
    # (a private key given by mistake is not quoted).
    load_recipients(recipients, ())
    listed = list(recipients)
    for path in files:
        # Read once (`-R <(…)` is a pipe) and checked as `encrypt -R` checks it: errors
        # name the file and the line.
        text, source = read_recipients_file(path)
        parsed = parse_recipients(text, source=source)
        if "-----BEGIN" in text:
            # A PEM key spans lines; the header holds its one-line ssh-… form.
            listed += [str(recipient) for recipient in parsed]
        else:
            # The lines as written: an SSH key's comment says whose it is.
            lines = (line.strip() for line in text.splitlines())
            listed += [line for line in lines if line and not line.startswith("#")]
    if not listed:
        raise click.UsageError("give at least one recipient with -r or -R")
    return listed


def _identities(files: tuple[Path, ...], passphrase_file: Path | None) -> list[Identity]:
    from sealbox.cli._encrypt_decrypt import load_identity_files

    return load_identity_files(files, passphrase_file)


def _load(file: Path) -> SealedFile:
    if not file.exists() and not file.is_symlink():
        raise CLIError(
            f"secrets file {file} does not exist",
            hint=f"create it first: sealbox secrets init {file} -r RECIPIENT (or -R FILE)",
        )
    return SealedFile.load(file)


def _check_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise click.BadParameter(
            "must be letters, digits and _, not starting with a digit", param_hint="'NAME'"
        )
    return name


@secrets.command()
@_FILE
@_RECIPIENT
@_RECIPIENTS_FILE
def init(file: Path, recipients: tuple[str, ...], recipient_files: tuple[Path, ...]) -> None:
    """Create an empty secrets file FILE for the given recipients."""
    listed = _recipients(recipients, recipient_files)
    if file.exists():
        raise CLIError(f"{file} already exists", hint="choose another name or remove it first")
    sealed = SealedFile.create(file, listed)
    sealed.save(overwrite=False)
    # The file's own list: a recipient given twice is written once.
    click.echo(f"created {file} for {counted(len(sealed.recipients), 'recipient')}")


@secrets.command(name="set")
@_FILE
@_NAME
@click.option(
    "--allow-empty", is_flag=True, help="Store an empty value (refused otherwise, as a mistake)."
)
def set_(file: Path, name: str, allow_empty: bool) -> None:
    """Set secret NAME in FILE to the value on stdin (or typed at a prompt).

    Needs no identity: the value is encrypted to the file's recipients. One
    trailing newline of the input is dropped. An empty value is refused unless
    --allow-empty is given.
    """
    _check_name(name)
    sealed = _load(file)
    value = _read_value(name)
    if not value and not allow_empty:
        # Most often `< /dev/null`, an unset variable piped in, or Enter at the prompt.
        where = "typed" if sys.stdin.isatty() else "on stdin"
        raise CLIError(
            f"the value {where} is empty; nothing was set",
            hint="pass --allow-empty to store an empty value",
        )
    sealed.set(name, value)
    _save(sealed)
    listed = sealed.recipients
    note(f"set {name} in {file}, encrypted to {counted(len(listed), 'recipient')}:")
    for recipient in listed:
        note(f"  {_short(recipient)}")


def _read_value(name: str) -> Secret[str]:
    if sys.stdin.isatty():
        import getpass

        with open_tty() as tty:
            text = getpass.getpass(f"Value for {name}: ", stream=tty)
    else:
        raw = sys.stdin.buffer.read(MAX_VALUE + 1)
        if len(raw) > MAX_VALUE:
            raise CLIError(f"the value on stdin is larger than {MAX_VALUE} bytes")
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            raise CLIError(
                "the value on stdin is not UTF-8 text", hint="encode binary values in base64"
            ) from None
        # One line end (\n, or \r\n from Windows); a \r alone is part of the value.
        text = text.removesuffix("\r\n") if text.endswith("\r\n") else text.removesuffix("\n")
    return Secret(text, register=True)


@secrets.command()
@_FILE
@_NAME
@_IDENTITY
@passphrase_file_option
def get(file: Path, name: str, identities: tuple[Path, ...], passphrase_file: Path | None) -> None:
    """Print the value of secret NAME (exactly, with no newline added)."""
    sealed = _load(file)
    if name not in sealed:
        raise CLIError(f"{file}: no secret named {name}", hint=f"'sealbox secrets list {file}'")
    value = sealed.get(name, _identities(identities, passphrase_file))
    write_stdout(value.expose_secret().encode())


@secrets.command(name="list")
@_FILE
@click.option(
    "-i",
    "--identity",
    "identities",
    multiple=True,
    type=FilePath(dir_okay=False, path_type=Path),
    help="Also open every value and check it was encrypted to the header's recipients.",
)
@json_option
@passphrase_file_option
def list_(
    file: Path, identities: tuple[Path, ...], as_json: bool, passphrase_file: Path | None
) -> None:
    """List the names in FILE (never values).

    With -i, every value is opened and checked: a value encrypted to another
    recipient list than the header shows means the header was changed without
    re-encrypting (exit 1). With --json: a list of {"name"} objects, with "state"
    too under -i (printed before such a failure).
    """
    sealed = _load(file)
    if not identities:
        if as_json:
            echo_json([{"name": name} for name in sealed.names()])
            return
        for name in sealed.names():
            click.echo(name)
        return
    states = sealed.check(_identities(identities, passphrase_file))
    if as_json:
        echo_json([{"name": name, "state": state} for name, state in states.items()])
    for name, state in [] if as_json else states.items():
        click.echo(f"{name}\t{state}")
    if states and set(states.values()) == {"not encrypted to you"}:
        raise CLIError(
            f"{file}: none of its {len(states)} values opens with the identities given",
            hint="use an identity whose recipient is in the file's header; if yours is there, "
            "the values were encrypted to others: check the '# recipient:' lines' history",
        )
    changed = [n for n, s in states.items() if s in {"recipients changed", "not encrypted to you"}]
    if changed:
        raise CLIError(
            f"{file}: the recipient list in the header is not the one "
            f"{', '.join(changed)} {'was' if len(changed) == 1 else 'were'} encrypted to",
            hint="check the '# recipient:' lines in the file's history; if the change is "
            "intended, re-encrypt with 'sealbox secrets rotate'",
        )


@secrets.command()
@_FILE
def accept(file: Path) -> None:
    """Accept FILE as it is now (after a hand merge you checked): write a new trailer."""
    sealed = SealedFile.accept(file)
    click.echo(f"accepted {file}: {len(sealed.names())} secrets")


@secrets.command()
@_FILE
@_NAME
@yes_option
def rm(file: Path, name: str, yes: bool) -> None:
    """Remove secret NAME from FILE (asks first; --yes without a terminal)."""
    sealed = _load(file)
    if name in sealed.names():
        confirm(
            f"Remove {name} from {file}? Its value is gone unless a copy of the file keeps it.",
            action=f"removing {name}",
            yes=yes,
        )
    if name not in sealed:
        raise CLIError(f"{file}: no secret named {name}", hint=f"'sealbox secrets list {file}'")
    sealed.remove(name)
    _save(sealed)
    note(f"removed {name} from {file}")


@secrets.command()
@_FILE
@_IDENTITY
@_RECIPIENT
@_RECIPIENTS_FILE
@passphrase_file_option
def rotate(
    file: Path,
    identities: tuple[Path, ...],
    recipients: tuple[str, ...],
    recipient_files: tuple[Path, ...],
    passphrase_file: Path | None,
) -> None:
    """Re-encrypt every value of FILE to new recipients (replacing the old ones)."""
    listed = _recipients(recipients, recipient_files)
    sealed = _load(file)
    sealed.rotate(_identities(identities, passphrase_file), listed)
    _save(sealed)
    values = counted(len(sealed.names()), "secret")
    to = counted(len(sealed.recipients), "recipient")
    click.echo(f"re-encrypted {values} in {file} to {to}")


@secrets.command()
@_FILE
@_IDENTITY
@passphrase_file_option
def edit(file: Path, identities: tuple[Path, ...], passphrase_file: Path | None) -> None:
    """Edit the values of FILE in $VISUAL/$EDITOR; unchanged values keep their ciphertext.

    The decrypted copy lives in a private (0700) folder in memory where the
    system has one ($XDG_RUNTIME_DIR, /dev/shm), removed afterwards whatever
    happens (SIGTERM and SIGHUP included; Ctrl-C while the editor is open is the
    editor's; a signal the caller ignores, as under nohup, stays ignored). If FILE
    changed while the editor was open, names changed on one
    side only are merged; a name changed on both sides is refused, and nothing
    is written.
    """
    from sealbox.secrets.workspace import Interrupted, private_workspace

    sealed = _load(file)
    ids = _identities(identities, passphrase_file)
    values = sealed.decrypt_all(ids)
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    try:
        with private_workspace() as (folder, in_memory):
            if not in_memory:
                warn(f"no memory-backed folder here; the decrypted copy is in {folder}")
            plain = folder / "secrets.env"
            fd = os.open(plain, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(
                    f"# {file}: edit the values, save and quit; a removed line removes the secret\n"
                )
                for name, value in values.items():
                    fh.write(f"{name}={quote(value.expose_secret())}\n")
            edited = _edit_until_it_reads(editor, plain, len(values))
            if edited is None:
                note("no change")
                return
            changed = sealed.replace_values(edited, ids)
            if not changed:  # the same values, maybe written another way: left alone
                note("no change")
                return
            _save(sealed)
            note(f"changed: {', '.join(changed)}")
    except Interrupted as exc:
        # 128 + the signal's number, as a shell reports a process the signal ended.
        print_error(f"interrupted ({exc}); the decrypted copy was removed")
        raise SystemExit(128 + exc.signum) from None


def _edit_until_it_reads(editor: str, plain: Path, count: int) -> dict[str, str] | None:
    """Run the editor on ``plain`` and read what it saved (``None``: not saved).

    An edit that does not read (a line that is not ``NAME=VALUE``, a name twice, an
    emptied buffer) is refused; on a terminal the user is asked whether to edit again,
    with their text as they left it, rather than lose it.
    """
    before = plain.read_bytes()
    _run_editor(editor, plain)
    if saved(plain) == before:  # by content: `:wq` unchanged is no change
        return None
    while True:
        try:
            return _read_edited(plain, count)
        except (SecretSourceError, CLIError) as exc:
            if not _edit_again(exc):
                raise
            _run_editor(editor, plain)


def _read_edited(plain: Path, count: int) -> dict[str, str]:
    edited = parse_edited(plain)
    if not edited and count:
        # An emptied buffer is more often an accident than a wish to drop them all.
        raise CLIError(
            f"the edited file holds no secret; nothing changed ({count} kept)",
            hint="remove secrets one by one with 'sealbox secrets rm'",
        )
    return edited


def _edit_again(problem: SealboxError) -> bool:
    """Ask on the terminal whether to go back to the editor (``False`` without one)."""
    try:
        tty = open_tty()
    except CLIError:
        return False
    with tty:
        message = terminal_safe(str(problem)).removesuffix("; nothing changed")
        tty.write(f"sealbox: error: {message}\nEdit again? [Y/n] ")
        return tty.readline().strip().lower() in {"", "y", "yes"}


def _run_editor(editor: str, plain: Path) -> None:
    try:
        argv = shlex.split(editor)
    except ValueError as exc:
        raise CLIError(
            f"the editor command {editor!r} cannot be read: {exc}",
            hint="check the quotes in $VISUAL or $EDITOR",
        ) from None
    if not argv:
        raise CLIError("the editor command is empty", hint="set $VISUAL or $EDITOR")
    argv += _private_editor_options(argv[0])
    from sealbox.secrets.workspace import Interrupted, keyboard_to_child, signal_name

    # Ctrl-C reaches the editor too, which decides (Vim leaves insert mode with it).
    with keyboard_to_child() as keyboard:
        try:
            # Not the passphrase (see run): an editor starts plugins, servers, shells.
            env = {k: v for k, v in os.environ.items() if k != PASSPHRASE_ENV}
            child = subprocess.Popen([*argv, str(plain)], env=env)  # noqa: S603 - the editor
        except OSError as exc:
            raise CLIError(f"cannot run the editor {editor!r}: {os_reason(exc)}") from None
        try:
            status = child.wait()
        except BaseException:
            # Interrupted: the editor must not go on with a file that is about to vanish.
            child.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(5)
            raise
    if status != 0 and keyboard:
        raise Interrupted(keyboard[0])
    if status != 0:
        how = (
            f"was ended by {signal_name(-status)}" if status < 0 else f"exited with status {status}"
        )
        raise CLIError(f"the editor {how}; nothing changed")


def _private_editor_options(program: str) -> list[str]:
    """Options that keep Vim and Neovim from copying the values to disk: their history
    file (``~/.viminfo``, ShaDa: yanks and searches), swap file, undo file and backups."""
    found = shutil.which(program)
    name = Path(os.path.realpath(found)).name if found else Path(program).name
    if not name.startswith(("vim", "nvim")):
        return []
    return ["-i", "NONE", "-n", "-c", "set noundofile nobackup nowritebackup"]


@secrets.command(cls=CommandLast)
@_FILE
@_IDENTITY
@passphrase_file_option
@click.option(
    "--allow-name",
    "allowed",
    multiple=True,
    metavar="NAME",
    help="Let the file set NAME although it changes which program runs, what it loads "
    "or whom it trusts (PATH, LD_PRELOAD, PYTHONPATH, HTTPS_PROXY…); repeatable.",
)
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def run(
    file: Path,
    identities: tuple[Path, ...],
    passphrase_file: Path | None,
    allowed: tuple[str, ...],
    command: tuple[str, ...],
) -> None:
    """Run COMMAND with the secrets of FILE in its environment.

    Usage: sealbox secrets run FILE -i KEY [--] COMMAND [ARGS]…  (every word from
    COMMAND on is the command's, options included)
    """
    from sealbox.secrets.env import changes_execution

    sealed = _load(file)
    # Anyone who can commit can add a name: one that decides what runs is refused unless
    # asked for (its value is never read for that).
    risky = sorted(n for n in sealed.names() if changes_execution(n) and n not in allowed)
    if risky:
        raise CLIError(
            f"{file} sets {', '.join(risky)}, which would change which program runs, what "
            "it loads or whom it trusts; nothing was run",
            hint=f"if that is meant, pass --allow-name {risky[0]}"
            + ("" if len(risky) == 1 else " for each")
            + "; else remove it with 'sealbox secrets rm'",
        )
    values = sealed.decrypt_all(_identities(identities, passphrase_file))
    # An environment variable ends at its first NUL byte: execve() cannot pass one.
    with_nul = [name for name, value in values.items() if "\0" in value.expose_secret()]
    if with_nul:
        raise CLIError(
            f"{file}: the value of {', '.join(with_nul)} holds a NUL character, which an "
            "environment variable cannot carry; nothing was run",
            hint="store binary values base64-encoded",
        )
    env = dict(os.environ)
    # It unlocks the identity, so every file sealed to it: the command gets this file's
    # values, not the key to all of them.
    env.pop(PASSPHRASE_ENV, None)
    env.update({k: v.expose_secret() for k, v in values.items()})
    # Found on the caller's PATH, whatever the file sets PATH to.
    program = shutil.which(command[0], path=os.environ.get("PATH", os.defpath))
    if program is None:
        # 127 and 126, as a shell answers: a script can tell them from the command's own 1.
        there = Path(command[0])
        if os.sep in command[0] and (there.exists() or there.is_symlink()):
            # A path that is there but is no program (a folder, no execute bit): 126.
            if there.is_dir():
                print_error(f"cannot run {command[0]}: it is a directory")
            else:
                print_error(
                    f"cannot run {command[0]}: permission denied",
                    hint=f"if it is a program, give it the execute bit: chmod +x {command[0]}"
                    if there.is_file()
                    else None,
                )
            raise SystemExit(126)
        print_error(f"command not found: {command[0]}", hint=not_found_hint(command[0]))
        raise SystemExit(127)
    sys.stdout.flush()
    sys.stderr.flush()
    # Python ignores these at start-up, and an ignored signal stays ignored across exec:
    # `run … yes | head -1` would end with "Broken pipe" instead of quietly. A signal the
    # caller ignores (nohup's SIGHUP) is left as it is.
    for name in ("SIGPIPE", "SIGXFSZ"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    try:
        os.execve(program, list(command), env)  # noqa: S606 - replaces this process, as intended
    except OSError as exc:
        if exc.errno == errno.E2BIG:
            too_big(command[0], values)
        print_error(f"cannot run {command[0]}: {os_reason(exc)}", hint=exec_hint(exc, program))
        raise SystemExit(126) from None
