"""``sealbox secrets …``: the encrypted secrets file that is safe to commit."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import click

from sealbox.age import Identity
from sealbox.cli._io import CLIError, note, open_tty, passphrase_file_option, write_stdout
from sealbox.exceptions import SecretSourceError
from sealbox.secret import Secret
from sealbox.secrets.base import NAME_PATTERN
from sealbox.secrets.sealed import SealedFile

_FILE = click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
_NAME = click.argument("name")
_IDENTITY = click.option(
    "-i",
    "--identity",
    "identities",
    multiple=True,
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="An age or SSH identity file that can decrypt the values (repeatable).",
)
_RECIPIENT = click.option(
    "-r", "--recipient", "recipients", multiple=True, help="An age or SSH recipient (repeatable)."
)
_RECIPIENTS_FILE = click.option(
    "-R",
    "--recipients-file",
    "recipient_files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
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


def _recipients(recipients: tuple[str, ...], files: tuple[Path, ...]) -> list[str]:
    from sealbox._files import read_limited

    listed = list(recipients)
    for path in files:
        text = read_limited(path, 1024 * 1024, "recipients file").decode()
        listed += [
            line.strip() for line in text.splitlines() if line.strip() and line.strip()[0] != "#"
        ]
    if not listed:
        raise click.UsageError("give at least one recipient with -r or -R")
    return listed


def _identities(files: tuple[Path, ...], passphrase_file: Path | None) -> list[Identity]:
    from sealbox.cli._age_files import load_identity_files

    return load_identity_files(files, passphrase_file)


def _load(file: Path) -> SealedFile:
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
    SealedFile.create(file, listed).save(overwrite=False)
    click.echo(f"created {file} for {len(listed)} recipient{'s' if len(listed) > 1 else ''}")


@secrets.command(name="set")
@_FILE
@_NAME
def set_(file: Path, name: str) -> None:
    """Set secret NAME in FILE to the value on stdin (or typed at a prompt).

    Needs no identity: the value is encrypted to the file's recipients. One
    trailing newline of the input is dropped.
    """
    _check_name(name)
    sealed = _load(file)
    value = _read_value(name)
    sealed.set(name, value)
    sealed.save()
    note(f"set {name} in {file}")


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
        text = text.removesuffix("\n").removesuffix("\r")
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
def list_(file: Path) -> None:
    """List the names in FILE (never values)."""
    for name in _load(file).names():
        click.echo(name)


@secrets.command()
@_FILE
@_NAME
def rm(file: Path, name: str) -> None:
    """Remove secret NAME from FILE."""
    sealed = _load(file)
    sealed.remove(name)
    sealed.save()
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
    sealed.save()
    click.echo(f"re-encrypted {len(sealed.names())} secrets in {file} to {len(listed)} recipients")


@secrets.command()
@_FILE
@_IDENTITY
@passphrase_file_option
def edit(file: Path, identities: tuple[Path, ...], passphrase_file: Path | None) -> None:
    """Edit the values of FILE in $VISUAL/$EDITOR; unchanged values keep their ciphertext.

    The decrypted copy lives in a private (0700) temporary folder that is removed
    afterwards, whatever happens.
    """
    sealed = _load(file)
    ids = _identities(identities, passphrase_file)
    values = sealed.decrypt_all(ids)
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    folder = Path(tempfile.mkdtemp(prefix="sealbox-edit-"))
    try:
        folder.chmod(0o700)
        plain = folder / "secrets.env"
        fd = os.open(plain, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(
                f"# {file}: edit the values, save and quit; a removed line removes the secret\n"
            )
            for name, value in values.items():
                fh.write(f"{name}={_quote(value.expose_secret())}\n")
        before = plain.stat().st_mtime_ns
        try:
            status = subprocess.call([*shlex.split(editor), str(plain)])  # noqa: S603 - the user's editor
        except OSError as exc:
            raise CLIError(
                f"cannot run the editor {editor!r}: {(exc.strerror or '').lower()}"
            ) from None
        if status != 0:
            raise CLIError(f"the editor exited with status {status}; nothing changed")
        if plain.stat().st_mtime_ns == before:
            note("no change")
            return
        edited = _parse_edited(plain)
        changed = sealed.replace_values(edited, ids)
        sealed.save()
        note(f"changed: {', '.join(changed)}" if changed else "no change")
    finally:
        _shred_folder(folder)


def _quote(value: str) -> str:
    if value and all(c.isalnum() or c in "-_./:@+=,%" for c in value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _parse_edited(path: Path) -> dict[str, str]:
    from dotenv.parser import parse_stream

    values: dict[str, str] = {}
    with path.open(encoding="utf-8") as fh:
        for binding in parse_stream(fh):
            line = binding.original.line
            if binding.error:
                raise SecretSourceError(
                    f"edited file, line {line}: cannot parse this line; nothing changed"
                )
            if binding.key is None:
                continue
            if not NAME_PATTERN.fullmatch(binding.key):
                raise SecretSourceError(f"edited file, line {line}: invalid name; nothing changed")
            if binding.key in values:
                raise SecretSourceError(
                    f"edited file, line {line}: {binding.key} appears twice; nothing changed"
                )
            values[binding.key] = binding.value or ""
    return values


def _shred_folder(folder: Path) -> None:
    # Overwrite before unlinking: the plaintext should not linger in free blocks
    # where that helps (it does not on copy-on-write or flash storage).
    for path in folder.iterdir():
        with contextlib.suppress(OSError):
            size = path.stat().st_size
            with path.open("r+b") as fh:
                fh.write(b"\0" * size)
                fh.flush()
                os.fsync(fh.fileno())
    shutil.rmtree(folder, ignore_errors=True)


@secrets.command(context_settings={"ignore_unknown_options": True})
@_FILE
@_IDENTITY
@passphrase_file_option
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def run(
    file: Path, identities: tuple[Path, ...], passphrase_file: Path | None, command: tuple[str, ...]
) -> None:
    """Run COMMAND with the secrets of FILE in its environment.

    Usage: sealbox secrets run FILE -i KEY -- COMMAND [ARGS]…
    """
    sealed = _load(file)
    values = sealed.decrypt_all(_identities(identities, passphrase_file))
    env = dict(os.environ)
    env.update({k: v.expose_secret() for k, v in values.items()})
    program = shutil.which(command[0], path=env.get("PATH"))
    if program is None:
        raise CLIError(f"command not found: {command[0]}")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(program, list(command), env)  # noqa: S606 - replaces this process, as intended
