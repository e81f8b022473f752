"""``sealbox hash-password`` and ``sealbox verify-password``: Argon2id from the command line.

The password is read from stdin (one trailing newline dropped) or, when stdin is
a terminal, from a prompt on the terminal; never from the command line. The hash
to check it against may come from a file (``--hash-file``): a hash is material for
an offline guessing attack, and an argument is in the process list and the shell's
history.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

import click

from sealbox.cli._dialect import echo_json, json_option
from sealbox.cli._io import CLIError, open_tty, os_reason, read_stdin, warn
from sealbox.exceptions import PasswordMismatchError
from sealbox.passwords.profiles import DEFAULT_PROFILE, PROFILES, profile_warning

MAX_STDIN = 64 * 1024
# Far above any hash sealbox verifies (the hasher refuses one over 512 characters): a
# file this large was named by mistake, and is not read whole.
MAX_HASH_FILE = 4 * 1024

_PROFILE = click.option(
    "--profile",
    type=click.Choice(list(PROFILES)),
    default=DEFAULT_PROFILE,
    show_default=True,
    help="Argon2id cost profile (see docs/passwords.md).",
)


@click.command("hash-password")
@_PROFILE
def hash_password(profile: str) -> None:
    """Hash a password from stdin (or a prompt) with Argon2id and print the hash."""
    from sealbox.passwords import PasswordHasher

    warning = profile_warning(profile)
    if warning is not None:
        warn(warning)
    hasher = PasswordHasher(profile)
    password = _read_password(confirm=True)
    click.echo(hasher.hash(password))


@click.command("verify-password")
@click.argument("hash_", metavar="[HASH]", required=False)
@click.option(
    "--hash-file",
    metavar="FILE",
    help="Read the hash from FILE (one line) instead of HASH: this keeps the hash off "
    "the command line, where other users see it in the process list and the shell's "
    "history keeps it.",
)
@_PROFILE
@json_option
def verify_password(hash_: str | None, hash_file: str | None, profile: str, as_json: bool) -> None:
    """Check a password from stdin (or a prompt) against HASH, or the hash in --hash-file.

    Prints 'ok', or 'ok, needs rehash' when the hash should be replaced (older
    parameters than --profile's, or a legacy bcrypt/PBKDF2 hash); exits with
    status 1 when the password does not match. With --json: {"ok", "needs_rehash"},
    printed whether it matches or not.
    """
    if hash_file is not None:
        if hash_ is not None:
            raise click.UsageError("give the hash as HASH or with --hash-file, not both")
        hash_ = _read_hash_file(hash_file)
    elif hash_ is None:
        raise click.UsageError("missing the hash: give HASH, or --hash-file FILE")
    from sealbox.passwords import PasswordHasher

    hasher = PasswordHasher(profile)
    password = _read_password(confirm=False)
    try:
        check = hasher.verify(hash_, password)
    except PasswordMismatchError:
        if as_json:
            echo_json({"ok": False, "needs_rehash": False})
        raise
    if as_json:
        echo_json({"ok": True, "needs_rehash": check.needs_rehash})
    else:
        click.echo("ok, needs rehash" if check.needs_rehash else "ok")


def _read_hash_file(path: str) -> str:
    """The hash a ``--hash-file`` holds: its one line, the line end dropped."""
    hint = "--hash-file takes a file holding the hash alone, as 'sealbox hash-password' prints it"
    if path == "-":
        # stdin carries the password: the two cannot share it.
        raise click.UsageError("--hash-file cannot be '-': stdin carries the password")
    from pathlib import Path

    try:
        with Path(path).open("rb") as fh:
            raw = fh.read(MAX_HASH_FILE + 1)
    except OSError as exc:
        raise CLIError(f"cannot read hash file {path}: {os_reason(exc)}", hint=hint) from None
    if len(raw) > MAX_HASH_FILE:
        raise CLIError(f"hash file {path} is larger than {MAX_HASH_FILE} bytes", hint=hint)
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise CLIError(f"hash file {path} is not UTF-8 text", hint=hint) from None
    value = text.removesuffix("\n").removesuffix("\r")
    if not value.strip():
        raise CLIError(f"hash file {path} is empty", hint=hint)
    if "\n" in value or "\r" in value:
        raise CLIError(f"hash file {path} holds more than one line", hint=hint)
    return value


def _read_password(*, confirm: bool) -> str:
    if sys.stdin.isatty():
        password = _prompt(confirm=confirm)
    else:
        raw = read_stdin(MAX_STDIN, "the password")
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            raise CLIError("the password on stdin is not UTF-8 text") from None
        password = text.removesuffix("\n").removesuffix("\r")
    if not password:
        raise CLIError("the password is empty")
    return password


def _prompt(*, confirm: bool) -> str:
    import getpass

    try:
        tty = open_tty()
    except CLIError:
        raise CLIError(
            "no password given and no terminal to ask on", hint="pipe the password on stdin"
        ) from None
    with tty:
        password = _ask(getpass.getpass, "Password: ", tty)
        if confirm and _ask(getpass.getpass, "Password (again): ", tty) != password:
            raise CLIError("the passwords do not match")
    return password


def _ask(ask: Callable[..., str], prompt: str, tty: TextIO) -> str:
    """One hidden answer; Ctrl-D or bytes that are not UTF-8 are a plain error (stdin's
    password is refused the same way), not an internal one."""
    try:
        return ask(prompt, stream=tty)
    except EOFError:
        raise CLIError("no password typed (end of input at the prompt)") from None
    except UnicodeDecodeError:
        raise CLIError("the password typed is not UTF-8 text") from None
